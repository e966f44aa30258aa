// The demo end to end, as the README runs it (compiled: `npm run build` first): it must
// show a failover, exit 0, and leave nothing running.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, ycsPidsFromLog } from '../../src/demo/cluster.js';
import { scratchDir } from '../helpers/loop.js';

const demoMain = join(REPO_ROOT, 'dist/src/demo/main.js');

let scratch: { dir: string; remove(): void } | undefined;

/** Processes whose command line names `text` (ycsm --config DIR/..., demo-db --data DIR/...). */
function processesMentioning(text: string): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.stdout.split('\n').filter((line) => line.includes(text) && !line.includes('ps -eo'));
}

function killLeftovers(dir: string): void {
  for (const line of processesMentioning(dir)) {
    const pid = Number(line.trim().split(/\s+/)[0]);
    if (pid > 0) spawnSync('kill', ['-9', String(pid)]);
  }
}

afterEach(() => {
  if (scratch !== undefined) {
    killLeftovers(scratch.dir);
    scratch.remove();
    scratch = undefined;
  }
});

/** When to send SIGINT: once `when` holds for the output so far and then `ready` holds (polled every 100 ms). */
interface Interrupt {
  when: (stdout: string) => boolean;
  ready: () => boolean;
}

function runDemo(
  args: string[],
  timeoutMs: number,
  interrupt?: Interrupt,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [demoMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      if (!interrupted && interrupt?.when(stdout) === true) {
        interrupted = true;
        const poll = setInterval(() => {
          if (!interrupt.ready()) return;
          clearInterval(poll);
          child.kill('SIGINT');
        }, 100);
        child.on('exit', () => clearInterval(poll));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('npm run demo', () => {
  it('shows a failover of the killed master database, exits 0 and leaves nothing running', async () => {
    expect(existsSync(demoMain)).toBe(true);
    scratch = scratchDir('ycs-demo-test-');
    const dir = join(scratch.dir, 'cluster');
    const run = await runDemo(['--dir', dir], 55_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.ms).toBeLessThan(55_000);
    const out = run.stdout;
    const failover = /Failover: host (\d) -> host (\d)/.exec(out);
    expect(failover).not.toBeNull();
    const [, from, to] = failover!;
    expect(from).not.toBe(to);
    expect(out).toMatch(new RegExp(`kill -9 \\d+: the YasDB database of master host ${from}`));
    // The seed's log lines, as the hosts printed them, after the kill.
    expect(out).toMatch(/\+\d+\.\d{3}s {2}host \d {2}ycs {4}abnormal found, trigger a new vote cycle/);
    expect(out).toMatch(new RegExp(`\\+\\d+\\.\\d{3}s  host ${to}  ycs    ycs run as primary successfully`));
    expect(out).toMatch(/host \d {2}ycs {4}try join primary/);
    // Two status tables: before with the old master, after with the new one.
    const rows = out.split('\n').filter((l) => /^\d +\d +\d +\d +$/.test(l)).map((l) => l.trim().split(/\s+/));
    expect(rows).toEqual([
      [from, from, from, '3'],
      [to, to, to, '3'],
    ]);
    const measured = /new YasDB primary \("demo-db is now primary"\): (\d+) ms after the kill/.exec(out);
    expect(measured).not.toBeNull();
    expect(Number(measured![1])).toBeLessThan(5000);
    // Nothing left: no process names the cluster's directory, no ycs from its logs lives.
    expect(processesMentioning(dir)).toEqual([]);
    for (const host of [1, 2, 3]) {
      for (const pid of ycsPidsFromLog(join(dir, `host${host}`, 'ycs.log'))) expect(() => process.kill(pid, 0)).toThrow();
    }
    // The data file shows the writes moved from the old primary's epoch to the new one's.
    const writers = readFileSync(join(dir, 'YasDB.data'), 'utf8').trim().split('\n').map((l) => /host=(\d)/.exec(l)?.[1]);
    expect(writers[0]).toBe(from);
    expect(writers.at(-1)).toBe(to);
  }, 60_000);

  it('--etcd: the master lease on a local 3-member etcd; a failover, exit 0, nothing left running', async () => {
    scratch = scratchDir('ycs-demo-test-');
    const dir = join(scratch.dir, 'cluster');
    const run = await runDemo(['--etcd', '--dir', dir], 55_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toContain('Starting a 3-member etcd cluster');
    expect(out).toContain('master lease on etcd');
    const failover = /Failover: host (\d) -> host (\d)/.exec(out);
    expect(failover).not.toBeNull();
    const [, from, to] = failover!;
    expect(from).not.toBe(to);
    expect(out).toMatch(new RegExp(`host ${from}  ycs    role master -> standby \\(released the master role because a resource failed\\)`));
    expect(out).toMatch(new RegExp(`\\+\\d+\\.\\d{3}s  host ${to}  ycs    ycs run as primary successfully`));
    const measured = /new YasDB primary \("demo-db is now primary"\): (\d+) ms after the kill/.exec(out);
    expect(Number(measured?.[1])).toBeLessThan(1000);
    console.log(`demo --etcd: new primary ${measured?.[1]} ms after the kill`);
    expect(processesMentioning(dir)).toEqual([]); // ycsm, ycs, databases and etcd members all gone
  }, 60_000);

  it('stops everything it started when interrupted while the cluster starts', async () => {
    scratch = scratchDir('ycs-demo-test-');
    const dir = join(scratch.dir, 'cluster');
    const ycsPids = (): number[] => [1, 2, 3].flatMap((host) => ycsPidsFromLog(join(dir, `host${host}`, 'ycs.log')));
    // Interrupted once every daemon logged (started): usually before a master is elected.
    const run = await runDemo(['--dir', dir], 40_000, { when: (out) => out.includes('Waiting for the cluster'), ready: () => ycsPids().length === 3 });
    expect(run.stdout).toContain('SIGINT: stopping');
    expect(run.code).toBe(130);
    expect(processesMentioning(dir)).toEqual([]);
    expect(ycsPids()).toHaveLength(3);
    for (const pid of ycsPids()) expect(() => process.kill(pid, 0)).toThrow();
  }, 45_000);
});
