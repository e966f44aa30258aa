#!/usr/bin/env node
// ycsctl: the ycs front end. `ycsctl <group> <command> [args]`.
// A group is a module exporting `run(argv): Promise<number>` (see output.ts). Adding a
// group is one line in GROUPS; modules load lazily so one group's start-up cost or
// breakage never affects another (`ycsctl disk` must work with no daemon and no addon
// features beyond sector I/O).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../native.js';
import { EXIT_OK, EXIT_USAGE, print, reportError, usageError, type CommandGroup } from './output.js';

interface GroupEntry {
  summary: string;
  load(): Promise<CommandGroup>;
}

const GROUPS: Record<string, GroupEntry> = {
  disk: { summary: 'initialize, show and wipe a voting disk (works without a daemon)', load: () => import('./disk.js') },
  status: { summary: 'show the cluster: hosts, master, resources (--json, --watch)', load: () => import('./status.js') },
  fence: { summary: 'persistent-reservation fencing: status DEVICE, or evict a host (fence HOST)', load: () => import('./fence.js') },
  unfence: { summary: 'register the local host at the storage again (--force when the daemon is down)', load: async () => ({ run: (await import('./fence.js')).runUnfence }) },
};

function topLevelHelp(): string {
  const width = Math.max(...Object.keys(GROUPS).map((name) => name.length));
  const groups = Object.entries(GROUPS).map(([name, g]) => `  ${name.padEnd(width)}  ${g.summary}`);
  return [
    'Usage: ycsctl <group> <command> [options]',
    '',
    'Command groups:',
    ...groups,
    '',
    'Options:',
    '  -h, --help     show help (also after a group or command)',
    '  --version      print the ycs version',
    '',
    'Errors print one line `CODE: message` to stderr; exit 1 when an operation fails,',
    '2 when the command line is wrong.',
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

async function main(argv: string[]): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      print(topLevelHelp());
      return first === undefined ? EXIT_USAGE : EXIT_OK;
    }
    if (first === '--version') {
      print(`ycsctl ${version()}`);
      return EXIT_OK;
    }
    const entry = Object.hasOwn(GROUPS, first) ? GROUPS[first] : undefined;
    if (entry === undefined) {
      throw usageError(`unknown command group '${first}' (groups: ${Object.keys(GROUPS).join(', ')}; see ycsctl --help)`);
    }
    const group = await entry.load();
    return await group.run(rest);
  } catch (err) {
    return reportError(err);
  }
}

// Setting exitCode (not process.exit) lets buffered stdout drain before the process ends.
process.exitCode = await main(process.argv.slice(2));
