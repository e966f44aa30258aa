// The fault kinds of the failover benchmark: how each is injected on real processes, which
// outcome ends the measurement, how the cluster is brought back to health for the next
// run, and the simulator fault with the same settings.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { agreedMaster } from '../../src/demo/cluster.js';
import { agreedAmong, isStatus, type FailoverFixture, type Healthy, type Statuses } from '../../test/helpers/cluster-fixture.js';
import { freezeTree, signalAll, waitForExit } from '../../test/helpers/processes.js';
import type { ClusterKind } from './clusters.js';
import { failoverPhases, restartPhases } from './phases.js';
import type { SimFault } from './sim.js';

export interface RunResult {
  /** Fault to the observers' statuses agreeing on the outcome (polled every 20 ms). */
  ms: number;
  phases: Record<string, number | undefined>;
  /** Anything that should not have happened (a needless failover, ...). */
  problems: string[];
}

export interface FaultKind {
  name: string;
  title: string;
  cluster: ClusterKind;
  sim: { fault: SimFault; fencing: 'pr' | 'none' };
  /** Runs one fault on a healthy cluster and brings it back to health. */
  run(fx: FailoverFixture, before: Healthy): Promise<RunResult>;
}

const ALL = [1, 2, 3];
const OUTCOME_TIMEOUT_MS = 20_000;
const RECOVERY_TIMEOUT_MS = 90_000;

function others(master: number): number[] {
  return ALL.filter((id) => id !== master);
}

/** The survivors agree on a master other than `old` that has left `old` out of the members. */
function newMasterWithout(old: number, observers: number[]): (s: Statuses) => number | undefined {
  return (s) => {
    const m = agreedAmong(s, observers);
    const view = s.get(m ?? 0);
    return m !== undefined && m !== old && isStatus(view) && !view.members.includes(old) ? m : undefined;
  };
}

/** Times `fault` until `until` holds among `observers`; returns the wall time of the fault too. */
async function timed(fx: FailoverFixture, fault: () => void, observers: number[], until: (s: Statuses) => number | undefined, what: string) {
  const wallMs = Date.now();
  const t0 = performance.now();
  fault();
  const newMaster = await fx.waitFor(observers, until, OUTCOME_TIMEOUT_MS, what);
  return { ms: Math.round(performance.now() - t0), wallMs, newMaster };
}

async function waitForChildExit(fx: FailoverFixture, host: number): Promise<void> {
  const child = fx.cluster.host(host).ycsm;
  const deadline = performance.now() + 5000;
  while (child !== undefined && child.exitCode === null && child.signalCode === null && performance.now() < deadline) await sleep(20);
}

const dbKill: FaultKind = {
  name: 'db-kill',
  title: 'master database kill -9',
  cluster: 'loop',
  sim: { fault: 'db-crash', fencing: 'none' },
  async run(fx, before) {
    const pid = fx.cluster.dbPid(before.master);
    if (pid === undefined) throw new Error(`E_BENCH: host ${before.master} has no database pid`);
    const t = await timed(fx, () => process.kill(pid, 'SIGKILL'), ALL, (s) => {
      const m = agreedMaster(s);
      return m !== undefined && m !== before.master ? m : undefined;
    }, 'a new master after the database kill');
    await fx.waitHealthy(RECOVERY_TIMEOUT_MS);
    return { ms: t.ms, phases: failoverPhases(fx.cluster, t.wallMs, t.newMaster), problems: [] };
  },
};

const hostKill: FaultKind = {
  name: 'host-kill',
  title: 'master host kill -9 (ycsm, ycs, db), PR fencing',
  cluster: 'fenced',
  sim: { fault: 'crash', fencing: 'pr' },
  async run(fx, before) {
    const pids = fx.hostPids(before.master);
    const survivors = others(before.master);
    const t = await timed(fx, () => signalAll(pids, 'SIGKILL'), survivors, newMasterWithout(before.master, survivors), 'a new master after the host kill');
    const phases = failoverPhases(fx.cluster, t.wallMs, t.newMaster);
    await waitForChildExit(fx, before.master);
    fx.cluster.startHost(before.master); // the host "reboots": ycsm starts ycs, which starts the database
    await fx.waitHealthy(RECOVERY_TIMEOUT_MS);
    return { ms: t.ms, phases, problems: [] };
  },
};

const hostStop: FaultKind = {
  name: 'host-stop',
  title: 'master host SIGSTOP, PR fencing',
  cluster: 'fenced',
  sim: { fault: 'pause', fencing: 'pr' },
  async run(fx, before) {
    const roots = fx.hostPids(before.master);
    const survivors = others(before.master);
    let frozen: number[] = [];
    let t: Awaited<ReturnType<typeof timed>>;
    try {
      t = await timed(fx, () => { frozen = freezeTree(roots); }, survivors, newMasterWithout(before.master, survivors), 'a new master after the host freeze');
    } finally {
      signalAll(frozen, 'SIGCONT'); // thawed at once: it finds itself fenced and rejoins as a standby
    }
    const phases = failoverPhases(fx.cluster, t.wallMs, t.newMaster);
    await fx.waitHealthy(RECOVERY_TIMEOUT_MS);
    return { ms: t.ms, phases, problems: [] };
  },
};

const ycsKill: FaultKind = {
  name: 'ycs-kill',
  title: 'master ycs kill -9 (no failover: ycsm restarts it)',
  cluster: 'loop',
  sim: { fault: 'ycs-crash', fencing: 'none' },
  async run(fx, before) {
    const ycs = fx.ycsPid(before.master);
    if (ycs === undefined) throw new Error(`E_BENCH: host ${before.master} has no ycs pid`);
    const seen = new Set<number>();
    let answeredWall: number | undefined;
    const t = await timed(fx, () => process.kill(ycs, 'SIGKILL'), ALL, (s) => {
      for (const st of s.values()) if (isStatus(st) && st.masterId !== 0 && st.masterId !== before.master) seen.add(st.masterId);
      const own = s.get(before.master);
      if (answeredWall === undefined && isStatus(own) && fx.ycsPid(before.master) !== ycs) answeredWall = Date.now();
      return answeredWall !== undefined && isStatus(own) && own.role === 'master' && agreedMaster(s) === before.master ? before.master : undefined;
    }, 'the master ycs back as master');
    await waitForExit(ycs, 2000);
    const masterWall = t.wallMs + t.ms;
    await fx.waitHealthy(RECOVERY_TIMEOUT_MS);
    const problems = seen.size > 0 ? [`another host was named master: ${[...seen].join(', ')}`] : [];
    return { ms: t.ms, phases: restartPhases(fx.cluster, t.wallMs, before.master, ycs, answeredWall, masterWall), problems };
  },
};

export const FAULT_KINDS: FaultKind[] = [dbKill, ycsKill, hostKill, hostStop];
