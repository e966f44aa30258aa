// A local ycs cluster for the failover tests (src/demo/cluster.ts underneath): three
// hosts, each its own ycsm -> ycs -> demo database, plus what the tests need around it:
// per-host process sets, waiting for a healthy cluster (master agreed and its database
// writing), measuring a failover from the fault to the survivors' agreed status and
// printing it as `failover[NAME]: N ms`, the failover story from the logs for a failed
// test, and cleanup of everything (processes, and whatever the test registered with
// `defer`: loop devices, targets, nftables tables) also when the test fails.
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StatusResult } from '../../src/cli/status.js';
import { agreedMaster, startLocalCluster, type LocalCluster, type LocalClusterOptions, type StatusOrError } from '../../src/demo/cluster.js';
import { describeEvent, parseRecord } from '../../src/demo/logs.js';
import { YcsError } from '../../src/errors.js';
import { scratchDir } from './loop.js';
import { killAllMentioning, processTree, signalAll } from './processes.js';

export const RESOURCE = 'YasDB';
const POLL_MS = 20;

export type Statuses = Map<number, StatusOrError>;

export interface Healthy {
  master: number;
  epoch: number;
}

export interface Measured<T> {
  ms: number;
  value: T;
}

export interface FailoverFixture {
  dir: string;
  cluster: LocalCluster;
  /** Runs `fn` during cleanup, after every process is gone (last registered, first run). */
  defer(fn: () => unknown): void;
  /** ycsm, everything below it (ycs, agents), and the host's databases. */
  hostPids(hostId: number): number[];
  /** Statuses of some hosts only (a frozen host would make every poll wait for its timeout). */
  statusesOf(hostIds: number[], timeoutMs?: number): Promise<Statuses>;
  /** Polls `statusesOf(hostIds)` every 20 ms until `predicate` gives a value. */
  waitFor<T>(hostIds: number[], predicate: (s: Statuses) => T | undefined | false, timeoutMs: number, what: string): Promise<T>;
  /** Every host up, one agreed master whose database writes at its epoch, every database connected. */
  waitHealthy(timeoutMs?: number): Promise<Healthy>;
  /**
   * Runs `fault`, then polls the `observers`' statuses until `until` holds; prints
   * `failover[name]: N ms` (fault to the poll that saw it) and returns the time.
   */
  measure<T>(name: string, fault: () => unknown, observers: number[], until: (s: Statuses) => T | undefined | false, timeoutMs: number): Promise<Measured<T>>;
  /** The ycs process ycsm runs on a host, or undefined while there is none. */
  ycsPid(hostId: number): number | undefined;
  /** Data-file lines `epoch=E host=H seq=N`, in file order. */
  dataLines(): Array<{ epoch: number; host: number; seq: number }>;
  /** Split-brain evidence in the data file: an epoch going back, or two writers in one epoch. */
  dataViolations(): string[];
  /** Raw log lines of a host's ycsm and ycs. */
  logOf(hostId: number): string;
  /** The lines of logOf logged at or after `sinceMs` (wall clock, pino's `time`). */
  logSince(hostId: number, sinceMs: number): string;
  /** The failover story of every host from the logs (for a failed test's output). */
  story(sinceMs?: number): string[];
  /** Thaws and stops everything, runs the deferred cleanups, removes the directory. */
  cleanup(): Promise<void>;
}

export function isStatus(s: StatusOrError | undefined): s is StatusResult {
  return s !== undefined && !(s instanceof YcsError);
}

/** The master the given statuses agree on (see agreedMaster), or undefined. */
export function agreedAmong(statuses: Statuses, hostIds: number[]): number | undefined {
  return agreedMaster(new Map([...statuses].filter(([id]) => hostIds.includes(id))));
}

class Fixture implements FailoverFixture {
  private readonly deferred: Array<() => unknown> = [];
  private cleaned = false;

  constructor(
    readonly dir: string,
    readonly cluster: LocalCluster,
    private readonly removeDir: () => void,
  ) {}

  defer(fn: () => unknown): void {
    this.deferred.push(fn);
  }

  hostPids(hostId: number): number[] {
    const ycsm = this.cluster.host(hostId).ycsm?.pid;
    const dbs = this.cluster.resources.map((r) => this.cluster.dbPid(hostId, r)).filter((p): p is number => p !== undefined);
    return processTree([...(ycsm === undefined ? [] : [ycsm]), ...dbs]);
  }

  async statusesOf(hostIds: number[], timeoutMs = 500): Promise<Statuses> {
    const entries = await Promise.all(
      hostIds.map(async (id): Promise<[number, StatusOrError]> => {
        try {
          return [id, await this.cluster.status(id, timeoutMs)];
        } catch (err) {
          return [id, err instanceof YcsError ? err : new YcsError('E_INTERNAL', String(err))];
        }
      }),
    );
    return new Map(entries);
  }

  async waitFor<T>(hostIds: number[], predicate: (s: Statuses) => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    let last: Statuses = new Map();
    while (performance.now() < deadline) {
      last = await this.statusesOf(hostIds);
      const value = predicate(last);
      if (value !== undefined && value !== false) return value;
      await sleep(POLL_MS);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last statuses: ${describeStatuses(last)}`);
  }

  async waitHealthy(timeoutMs = 30_000): Promise<Healthy> {
    const all = this.cluster.hosts.map((h) => h.id);
    return this.waitFor(all, (s) => this.healthy(s), timeoutMs, 'a healthy cluster (agreed master, its database writing, every database connected)');
  }

  private healthy(statuses: Statuses): Healthy | undefined {
    const master = agreedMaster(statuses);
    const view = statuses.get(master ?? 0);
    if (master === undefined || !isStatus(view)) return undefined;
    const allUp = [...statuses.values()].every((s) => isStatus(s) && s.members.length === this.cluster.hosts.length && s.resourceMasters.every((m) => m === master));
    if (!allUp || !view.hosts.every((h) => h.state === 'online' && h.resources.every((r) => r === (h.hostId === master ? 'primary' : 'standby')))) return undefined;
    if (!this.cluster.hosts.every((h) => this.databaseConnected(h.id))) return undefined;
    // The master's database writes with the epoch it was promoted in (a later epoch that
    // keeps the same master, e.g. to admit a host, does not promote it again).
    const last = this.dataLines().at(-1);
    return last !== undefined && last.host === master && last.epoch <= view.epoch ? { master, epoch: view.epoch } : undefined;
  }

  /** The database in the pid file logged its role from ycs (so it is connected over heartbeat 2). */
  private databaseConnected(hostId: number): boolean {
    return this.cluster.resources.every((r) => {
      const pid = this.cluster.dbPid(hostId, r);
      if (pid === undefined) return false;
      const log = readText(join(this.cluster.host(hostId).runDir, `${r}.log`));
      return new RegExp(`"pid":${pid},.*"msg":"demo-db is now (standby|primary) at epoch`).test(log);
    });
  }

  async measure<T>(name: string, fault: () => unknown, observers: number[], until: (s: Statuses) => T | undefined | false, timeoutMs: number): Promise<Measured<T>> {
    const t0 = performance.now();
    await fault();
    const value = await this.waitFor(observers, until, timeoutMs, `the outcome of ${name}`);
    const ms = Math.round(performance.now() - t0);
    console.log(`failover[${name}]: ${ms} ms`);
    return { ms, value };
  }

  ycsPid(hostId: number): number | undefined {
    const ycsm = this.cluster.host(hostId).ycsm?.pid;
    if (ycsm === undefined) return undefined;
    return processTree([ycsm]).find((pid) => pid !== ycsm && readText(`/proc/${pid}/cmdline`).includes('daemon/main.js'));
  }

  dataViolations(): string[] {
    const problems: string[] = [];
    const writerOf = new Map<number, number>();
    let maxEpoch = 0;
    for (const [i, line] of this.dataLines().entries()) {
      if (line.epoch < maxEpoch) problems.push(`line ${i + 1}: host ${line.host} wrote at epoch ${line.epoch} after epoch ${maxEpoch}`);
      const writer = writerOf.get(line.epoch);
      if (writer !== undefined && writer !== line.host) problems.push(`line ${i + 1}: hosts ${writer} and ${line.host} both wrote at epoch ${line.epoch}`);
      writerOf.set(line.epoch, writer ?? line.host);
      maxEpoch = Math.max(maxEpoch, line.epoch);
    }
    return problems;
  }

  dataLines(): Array<{ epoch: number; host: number; seq: number }> {
    const out: Array<{ epoch: number; host: number; seq: number }> = [];
    for (const line of readText(this.cluster.dataPath()).split('\n')) {
      const m = /^epoch=(\d+) host=(\d+) seq=(\d+)$/.exec(line);
      if (m) out.push({ epoch: Number(m[1]), host: Number(m[2]), seq: Number(m[3]) });
    }
    return out;
  }

  logOf(hostId: number): string {
    return readText(this.cluster.host(hostId).logPath);
  }

  logSince(hostId: number, sinceMs: number): string {
    return this.logOf(hostId).split('\n').filter((line) => (parseRecord(line)?.time ?? -1) >= sinceMs).join('\n');
  }

  story(sinceMs = 0): string[] {
    const events: Array<{ time: number; text: string }> = [];
    for (const h of this.cluster.hosts) {
      const files = [h.logPath, ...this.cluster.resources.map((r) => join(h.runDir, `${r}.log`))];
      for (const line of files.flatMap((f) => readText(f).split('\n'))) {
        const record = parseRecord(line);
        const event = record === undefined ? undefined : describeEvent(record);
        if (record !== undefined && event !== undefined && record.time >= sinceMs) {
          events.push({ time: record.time, text: `${new Date(record.time).toISOString().slice(11, 23)} host ${h.id} ${event.who} ${event.text}` });
        }
      }
    }
    return events.sort((a, b) => a.time - b.time).map((e) => e.text);
  }

  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    try {
      // A frozen host ignores SIGTERM until it runs again.
      for (const h of this.cluster.hosts) signalAll(this.hostPids(h.id), 'SIGCONT');
      await Promise.race([this.cluster.stop(), sleep(20_000)]);
      await killAllMentioning(this.dir);
    } finally {
      for (const fn of this.deferred.reverse()) {
        try {
          await fn();
        } catch (err) {
          console.error(`cleanup step failed: ${String(err)}`);
        }
      }
      const keep = process.env.YCS_TEST_KEEP_DIR;
      if (keep !== undefined && keep !== '') cpSync(this.dir, join(keep, basename(this.dir)), { recursive: true });
      this.removeDir();
    }
  }
}

function readText(path: string): string {
  try {
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  } catch {
    return '';
  }
}

export function describeStatuses(statuses: Statuses): string {
  return [...statuses]
    .map(([id, s]) => (isStatus(s) ? `host ${id}: ${s.role} epoch ${s.epoch} master ${s.masterId} members [${s.members.join(',')}] dbs ${JSON.stringify(s.resourceMasters)}` : `host ${id}: ${s.code}`))
    .join('; ');
}

export type FixtureOptions = Omit<LocalClusterOptions, 'dir'> & {
  /** Runs before the cluster starts, with the scratch directory (create disks, targets ...). */
  prepare?: (dir: string, fixture: Pick<FailoverFixture, 'defer'>) => Promise<Partial<LocalClusterOptions>> | Partial<LocalClusterOptions>;
};

/**
 * Starts a three-host cluster (by default) in a fresh scratch directory. If anything
 * fails on the way, what was started is cleaned up before the error propagates.
 */
export async function startFailoverCluster(name: string, options: FixtureOptions = {}): Promise<FailoverFixture> {
  const scratch = scratchDir(`ycs-failover-${name}-`);
  const early: Array<() => unknown> = [];
  const deferEarly = { defer: (fn: () => unknown) => early.push(fn) };
  let fixture: Fixture | undefined;
  try {
    const { prepare, ...rest } = options;
    const extra = prepare === undefined ? {} : await prepare(scratch.dir, deferEarly);
    const cluster = await startLocalCluster({ hosts: 3, resources: [RESOURCE], ...rest, ...extra, dir: join(scratch.dir, 'cluster') });
    fixture = new Fixture(scratch.dir, cluster, scratch.remove);
    for (const fn of early) fixture.defer(fn);
    return fixture;
  } catch (err) {
    await killAllMentioning(scratch.dir);
    for (const fn of early.reverse()) await Promise.resolve().then(fn).catch(() => undefined);
    scratch.remove();
    throw err;
  }
}
