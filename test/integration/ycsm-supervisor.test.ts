// ycsm as a real process supervising a fake ycs (test/fixtures/fake-ycs.ts, which uses
// the real src/monitor/ycs-side.ts). Runs the compiled files: `npm run build:ts` first
// (npm test does).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { processStartTime } from '../../src/monitor/channel.js';
import { scratchDir } from '../helpers/loop.js';
import { isAlive } from '../helpers/processes.js';
import { waitFor as pollUntil } from '../helpers/wait.js';

const root = resolve(import.meta.dirname, '../..');
const ycsmMain = join(root, 'dist/src/monitor/main.js');
const fakeYcs = join(root, 'dist/test/fixtures/fake-ycs.js');

interface RunningYcsm {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let scratch: { dir: string; remove(): void };
let running: RunningYcsm[];
let startsFile: string;
let dbFile: string;
let configPath: string;

beforeAll(() => {
  for (const file of [ycsmMain, fakeYcs]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build:ts\` first`);
  }
});

beforeEach(() => {
  scratch = scratchDir('ycs-ycsm-');
  running = [];
  startsFile = join(scratch.dir, 'starts');
  dbFile = join(scratch.dir, 'dbs');
  configPath = join(scratch.dir, 'ycs.json');
  writeFileSync(configPath, JSON.stringify({ DISK_HB_KEEP_ALIVE: 500 }));
});

afterEach(() => {
  for (const r of running) r.child.kill('SIGKILL');
  // Only processes this test started: the recorded start time must still match.
  const ours = [...lines(startsFile).map((l) => l.split(' ')), ...lines(dbFile).map((l) => l.split(' '))]
    .map((f) => ({ pid: Number(f[0]), start: f.at(-1) }))
    .filter(({ pid, start }) => processStartTime(pid) === start);
  for (const { pid } of ours) {
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  scratch.remove();
});

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : [];
}
function starts(): Array<{ pid: number; atMs: number }> {
  return lines(startsFile).map((l) => {
    const [pid, atMs] = l.split(' ').map(Number) as [number, number];
    return { pid, atMs };
  });
}
const startedPids = (): number[] => starts().map((s) => s.pid);
const databasePids = (): number[] => lines(dbFile).map((l) => Number(l.split(' ')[0]));

const waitFor = (check: () => boolean, timeoutMs = 5_000): Promise<void> => pollUntil(check, timeoutMs, 20);

/** ycsm has had the first local heartbeat of the current ycs. */
const beating = (ycsm: RunningYcsm): boolean => ycsm.stdout().includes('first local heartbeat from ycs');

function startYcsm(extraArgs: string[], env: Record<string, string> = {}): RunningYcsm {
  const child = spawn(
    process.execPath,
    [ycsmMain, '--config', configPath, '--ycs-command', `${process.execPath} ${fakeYcs}`, '--backoff-ms', '100', ...extraArgs],
    { env: { ...process.env, FAKE_YCS_STARTS: startsFile, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('exit', (code, signal) => res({ code, signal })),
  );
  const r = { child, stdout: () => out, stderr: () => err, exited };
  running.push(r);
  return r;
}

describe('ycsm', () => {
  it('restarts ycs after kill -9, leaving the databases running', async () => {
    const ycsm = startYcsm([], { FAKE_YCS_DB: dbFile });
    await waitFor(() => starts().length === 1 && databasePids().length === 1);
    const [first] = startedPids() as [number];
    const killedAt = Date.now();
    process.kill(first, 'SIGKILL');
    await waitFor(() => starts().length === 2);
    const restartMs = starts()[1]!.atMs - killedAt;
    console.log(`ycs restarted ${restartMs} ms after kill -9 (first restart in the window: no backoff)`);
    expect(startedPids()[1]).not.toBe(first);
    expect(restartMs).toBeLessThan(5_000); // a node start on a loaded host
    expect(isAlive(databasePids()[0]!)).toBe(true); // a ycs crash is not a database crash
    expect(ycsm.stdout()).toContain('was killed by SIGKILL: restarting it in 0 ms');
    expect(ycsm.child.exitCode).toBeNull();
  });

  it('kills a SIGSTOPped ycs and its databases after DISK_HB_KEEP_ALIVE, then starts it again', async () => {
    const ycsm = startYcsm([], { FAKE_YCS_DB: dbFile });
    await waitFor(() => beating(ycsm) && databasePids().length === 1); // steady beats, past the startup grace
    const [frozen] = startedPids() as [number];
    const [db] = databasePids() as [number];
    const stoppedAt = Date.now();
    process.kill(frozen, 'SIGSTOP');
    await waitFor(() => !isAlive(frozen));
    const killedAfterMs = Date.now() - stoppedAt;
    console.log(`SIGSTOPped ycs killed ${killedAfterMs} ms after the stop (keepalive 500 ms)`);
    expect(killedAfterMs).toBeGreaterThanOrEqual(350); // last beat <= 100 ms before the stop
    expect(killedAfterMs).toBeLessThan(1_500);
    await waitFor(() => !isAlive(db));
    await waitFor(() => starts().length === 2 && databasePids().length === 2);
    expect(isAlive(databasePids()[1]!)).toBe(true);
    expect(ycsm.stdout()).toMatch(/sent no local heartbeat for \d+ ms \(DISK_HB_KEEP_ALIVE 500 ms\): killing ycs and the databases it manages/);
  });

  it('does not kill ycs for a pause of the whole host (ycsm stopped too)', async () => {
    const ycsm = startYcsm([]);
    await waitFor(() => beating(ycsm));
    const [ycs] = startedPids() as [number];
    process.kill(ycsm.child.pid!, 'SIGSTOP');
    process.kill(ycs, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 1_200)); // > DISK_HB_KEEP_ALIVE (500 ms)
    process.kill(ycs, 'SIGCONT');
    process.kill(ycsm.child.pid!, 'SIGCONT');
    await new Promise((r) => setTimeout(r, 1_000)); // two keep-alives after waking
    expect(isAlive(ycs)).toBe(true);
    expect(starts()).toHaveLength(1);
    expect(ycsm.stdout()).toContain('ycsm was not scheduled for a while: extending the ycs deadline');
  });

  it('exits 0 when ycs stops normally', async () => {
    const ycsm = startYcsm([], { FAKE_YCS_MODE: 'exit0', FAKE_YCS_EXIT_AFTER_MS: '200' });
    expect(await ycsm.exited).toEqual({ code: 0, signal: null });
    expect(starts()).toHaveLength(1);
    expect(ycsm.stdout()).toContain('ycs stopped normally');
  });

  it('forwards SIGTERM as a normal stop and exits 0', async () => {
    const ycsm = startYcsm([]);
    await waitFor(() => starts().length === 1);
    const [ycs] = startedPids() as [number];
    ycsm.child.kill('SIGTERM');
    expect(await ycsm.exited).toEqual({ code: 0, signal: null });
    expect(isAlive(ycs)).toBe(false);
    expect(starts()).toHaveLength(1);
    expect(ycsm.stdout()).toContain('asking ycs to stop normally');
  });

  it('backs off exponentially on a crash loop, then gives up with E_RESTART_LIMIT', async () => {
    const ycsm = startYcsm(['--max-restarts', '3', '--backoff-ms', '80'], { FAKE_YCS_MODE: 'crash' });
    expect(await ycsm.exited).toEqual({ code: 3, signal: null });
    const times = starts().map((s) => s.atMs);
    expect(times, ycsm.stdout()).toHaveLength(4); // the first start and three restarts
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    console.log(`crash-loop gaps between starts: ${gaps.join(', ')} ms (delays 0, 80, 160)`);
    expect(gaps[1]!).toBeGreaterThanOrEqual(75); // each gap: its delay plus a node start
    expect(gaps[2]!).toBeGreaterThanOrEqual(155);
    for (const delayMs of [0, 80, 160]) expect(ycsm.stdout()).toContain(`restarting it in ${delayMs} ms`);
    expect(ycsm.stderr()).toMatch(/^E_RESTART_LIMIT: ycs needed 3 restarts within 60000 ms; giving up \(last: ycs exited with code 3\)\n$/);
  });

  it('refuses bad usage and a malformed DISK_HB_KEEP_ALIVE with one line each', async () => {
    const noConfig = spawn(process.execPath, [ycsmMain], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    noConfig.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => noConfig.on('exit', r));
    expect(code).toBe(2);
    expect(err).toMatch(/^E_USAGE: usage: ycsm --config PATH/);
    writeFileSync(configPath, JSON.stringify({ DISK_HB_KEEP_ALIVE: 'soon' }));
    const bad = startYcsm([]);
    expect(await bad.exited).toEqual({ code: 2, signal: null });
    expect(bad.stderr()).toBe(`E_CONFIG: ${configPath}: DISK_HB_KEEP_ALIVE: must be an integer, got "soon"\n`);
    expect(starts()).toHaveLength(0);
  });
});
