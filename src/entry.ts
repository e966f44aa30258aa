// Runs a program's main() when its module is the process entry point (not when a test
// imports it), and turns whatever escapes main() into the one-line `code: message` form.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toYcsError } from './errors.js';

function isEntryPoint(moduleUrl: string): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(moduleUrl);
  } catch {
    return false;
  }
}

export function runIfEntryPoint(moduleUrl: string, main: () => Promise<number>): void {
  if (!isEntryPoint(moduleUrl)) return;
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${toYcsError(err).toLine()}\n`);
      process.exit(1);
    },
  );
}
