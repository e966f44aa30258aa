// The layers of src/ (docs/layers.md): every import runs down, never up or sideways into
// another directory of the same layer, and the core is pure (no clock, no timers, no
// randomness, no node: modules). Reads the import lines of every file, no compiler needed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/** Lower layers first; an import may only go to a strictly lower layer (or its own directory). */
export const LAYERS: Record<string, number> = {
  errors: 0, // one-line `code: message` errors
  entry: 1, native: 1, // program entry; the addon loader
  core: 2, // the pure engine
  net: 3, disk: 3, // UDP heartbeats and line framing; sector I/O and the voting-disk layout
  control: 4, fence: 4, resource: 4, etcd: 4, // control protocol; SCSI-3 PR fencing; databases and heartbeat 2; the etcd leader record
  config: 5, client: 5, metrics: 5, // the config file; the database-side heartbeat-2 library; Prometheus metrics and health endpoints
  monitor: 6, // the ycsm channel and supervisor
  daemon: 7, // ycs: the engine wired to its shells
  cli: 8, // ycsctl
  demo: 9, // the local demo cluster (drives ycsctl's renderer)
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The layer name of a file under src/: its directory, or its name for a root file. */
function unitOf(path: string): string {
  const rel = relative(SRC, path).split('/');
  return rel.length === 1 ? rel[0]!.replace(/\.ts$/, '') : rel[0]!;
}

/** Every `import ... from '...'` and `export ... from '...'` specifier of a source text. */
export function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+['"]([^'"]+)['"]/gm)) specifiers.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) specifiers.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specifiers.push(m[1]!);
  return specifiers;
}

/** Problems of one file: back-imports, and impurity inside the core. */
export function layerProblems(path: string, text: string): string[] {
  const from = unitOf(path);
  const problems: string[] = [];
  const rank = LAYERS[from];
  if (rank === undefined) return [`${relative(SRC, path)}: '${from}' has no layer in LAYERS (docs/layers.md)`];
  for (const spec of importsOf(text)) {
    if (from === 'core' && !spec.startsWith('.')) problems.push(`${relative(SRC, path)}: the core imports '${spec}' (only its own files and ../errors.js)`);
    if (!spec.startsWith('.')) continue;
    const target = resolve(path, '..', spec).replace(/\.js$/, '.ts');
    if (!target.startsWith(SRC)) continue;
    const to = unitOf(target);
    if (to === from) continue;
    const toRank = LAYERS[to];
    if (toRank === undefined || toRank >= rank) {
      problems.push(`${relative(SRC, path)}: '${from}' (layer ${rank}) imports '${spec}' from '${to}' (layer ${toRank ?? '?'}): imports run down the layers only`);
    }
  }
  if (from === 'core') {
    const code = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const banned of ['Date.now', 'Math.random', 'setTimeout', 'setInterval', 'setImmediate', 'performance.', 'process.']) {
      if (code.includes(banned)) problems.push(`${relative(SRC, path)}: the core uses ${banned} (time, randomness and the process come in as inputs)`);
    }
  }
  return problems;
}

describe('layering of src/', () => {
  it('every import runs down the layers and the core stays pure', () => {
    const problems = files(SRC).flatMap((path) => layerProblems(path, readFileSync(path, 'utf8')));
    expect(problems).toEqual([]);
  });

  it('catches a back-import, a sideways import, a node: import and a clock in the core', () => {
    const core = join(SRC, 'core/engine.ts');
    expect(layerProblems(core, "import { Daemon } from '../daemon/daemon.js';")[0]).toMatch(/'core' \(layer 2\) imports '..\/daemon\/daemon.js' from 'daemon' \(layer 7\)/);
    expect(layerProblems(core, "import { x } from 'node:fs';")[0]).toMatch(/the core imports 'node:fs'/);
    expect(layerProblems(core, 'const t = Date.now();')).toEqual([expect.stringMatching(/the core uses Date.now/)]);
    expect(layerProblems(core, '// Date.now is banned here\nconst a = 1;')).toEqual([]);
    expect(layerProblems(join(SRC, 'disk/device.ts'), "export { y } from '../net/index.js';")[0]).toMatch(/'disk' \(layer 3\) imports .* from 'net' \(layer 3\)/);
    expect(layerProblems(join(SRC, 'daemon/daemon.ts'), "import { statusFromView } from '../cli/status.js';")[0]).toMatch(/from 'cli' \(layer 8\)/);
    expect(layerProblems(join(SRC, 'cli/status.ts'), "import { statusFromView } from '../core/view.js';")).toEqual([]);
  });
});
