// Loads the C++ addon built by node-gyp (build/Release/ycs_native.node).
// The addon's typed surface is declared by each subsystem that uses it
// (src/disk/device.ts, src/fence/transport.ts); this file only finds and loads it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { YcsError } from './errors.js';

/** The package root: the nearest directory above this file that holds package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new YcsError('E_INTERNAL', 'cannot find the ycs package root');
    dir = parent;
  }
  return dir;
}

let cached: unknown;

export function loadNative<T>(): T {
  if (cached === undefined) {
    const path = join(packageRoot(), 'build', 'Release', 'ycs_native.node');
    if (!existsSync(path)) {
      throw new YcsError('E_INTERNAL', `native addon not built: ${path} is missing (run npm run build)`);
    }
    cached = createRequire(import.meta.url)(path);
  }
  return cached as T;
}
