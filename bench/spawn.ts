// What starting a resource agent costs the daemon's event loop: child_process.spawn (the
// reference, what runAgent used before) against the addon's runProcess (what it uses now,
// native/process_spawn.cc), run alternately on the same agent script. For each run: the
// time the call holds the JavaScript thread (spawn forks there and waits for the child's
// exec), and the whole run to the exit; for each method: the event-loop lag p99/max seen
// by a 1 ms interval timer while its runs go on (blocks of BLOCK runs per method,
// alternating). With MEMORY_MB of touched memory in the process (a daemon's resident size,
// whose page tables a fork copies). Prints p50/p99/max.
// npm run bench:spawn [-- --runs N --memory-mb M]
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadNative } from '../src/native.js';
import { environmentList, type RunProcessNative } from '../src/resource/agent.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('runs', 200);
const MEMORY_MB = arg('memory-mb', 80);
const BLOCK = 20;

function viaChildProcess(agent: string): { heldMs: number; done: Promise<number | null> } {
  const t0 = performance.now();
  const child = spawn(agent, ['monitor'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const heldMs = performance.now() - t0;
  child.stdout.resume();
  child.stderr.resume();
  return { heldMs, done: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

const ENV = environmentList(process.env);

function viaAddon(agent: string): { heldMs: number; done: Promise<number | null> } {
  const t0 = performance.now();
  const done = loadNative<RunProcessNative>().runProcess(agent, ['monitor'], ENV, { timeoutMs: 10_000, killGraceMs: 1_000, outputTailBytes: 4096 });
  const heldMs = performance.now() - t0;
  return { heldMs, done: done.then((r) => r.exitCode) };
}

const METHODS = [
  { name: 'child_process.spawn', run: viaChildProcess },
  { name: 'addon runProcess', run: viaAddon },
];

const dir = mkdtempSync(join(tmpdir(), 'ycs-bench-spawn-'));
try {
  const agent = join(dir, 'agent.sh');
  writeFileSync(agent, '#!/bin/sh\necho "monitor $1"\nexit 0\n');
  chmodSync(agent, 0o755);
  // A daemon's resident size, touched (the fork's page-table copy grows with it); outside
  // the JS heap, so that the garbage collector does not scan it.
  const ballast = Buffer.alloc(MEMORY_MB * 1024 * 1024, 1);
  const held = new Map<string, number[]>(METHODS.map((m) => [m.name, []]));
  const total = new Map<string, number[]>(METHODS.map((m) => [m.name, []]));
  // Each tick's lateness goes to the method whose runs are going on.
  const lag = new Map<string, number[]>(METHODS.map((m) => [m.name, []]));
  let current: number[] | undefined;
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    current?.push(Math.max(0, now - lastTick - 1));
    lastTick = now;
  }, 1);
  for (let i = 0; i < RUNS; i += BLOCK) {
    for (const m of METHODS) {
      current = lag.get(m.name);
      for (let j = i; j < Math.min(RUNS, i + BLOCK); j++) {
        const t0 = performance.now();
        const { heldMs, done } = m.run(agent);
        const code = await done;
        if (code !== 0) throw new Error(`${m.name}: the agent exited with ${code}`);
        total.get(m.name)?.push(performance.now() - t0);
        held.get(m.name)?.push(heldMs);
      }
      current = undefined;
    }
  }
  clearInterval(ticker);
  const pct = (xs: number[], p: number): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
  };
  const fmt = (xs: number[]): string => `p50 ${pct(xs, 50).toFixed(2)}  p99 ${pct(xs, 99).toFixed(2)}  max ${Math.max(...xs).toFixed(2)}`;
  process.stdout.write(`agent runs, ${RUNS} per method (blocks of ${BLOCK}, alternating), ${ballast.length >> 20} MB resident beside the heap, ms\n`);
  for (const m of METHODS) {
    const late = lag.get(m.name) ?? [];
    process.stdout.write(`  ${m.name.padEnd(20)} JS thread held: ${fmt(held.get(m.name) ?? [])}   run to exit: ${fmt(total.get(m.name) ?? [])}   1 ms timer late: ${fmt(late)}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
