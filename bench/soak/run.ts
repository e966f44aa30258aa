// One soak run (issue 11 part 3): a healthy three-host cluster of real processes (loop
// device voting disk, default timeouts unless given, HTTP listeners on) runs for
// `seconds` under stress-ng (load.ts) and a steady client workload (workload.ts); the
// verdict is what each host's counters say happened meanwhile: evictions, role changes,
// heartbeat-2 timeouts (counters.ts), cross-checked with the engine's log lines and the
// data file's split-brain check. Shared by `npm run soak` (bench/soak.ts) and the CI test
// (test/integration/soak.test.ts). Everything started is cleaned up, also on failure.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalClusterTimeouts } from '../../src/demo/cluster.js';
import { startFailoverCluster, type FailoverFixture } from '../../test/helpers/cluster-fixture.js';
import { createLoop } from '../../test/helpers/loop.js';
import { hostRecords } from '../failover/phases.js';
import { delta, scrape, type Counters } from './counters.js';
import { YcsError } from '../../src/errors.js';
import { describePriority, priorityOption, type Priority } from '../priority.js';
import { startLoad, stressNgAvailable, type Load } from './load.js';
import { Workload, type WorkloadFigures } from './workload.js';


export interface SoakOptions {
  seconds: number;
  load?: boolean;
  priority?: Priority;
  timeouts?: LocalClusterTimeouts;
  /** Called with the fixture once the cluster started (the CLI cleans it up on Ctrl-C). */
  onStarted?: (fx: FailoverFixture, load: () => Load | undefined) => void;
  progress?: (line: string) => void;
}

export interface SoakResult {
  seconds: number;
  loadCommand: string | null;
  priority: Priority;
  /** Per host, what its counters counted during the soak. */
  counters: Map<number, Counters>;
  totals: Counters;
  /** Engine role-change and eviction log lines during the soak, every host. */
  loggedRoleChanges: number;
  loggedEvictions: number;
  dataViolations: string[];
  dataLines: number;
  /** CPU busy share of the machine over the soak, from /proc/stat. */
  cpuBusy: number;
  workload: WorkloadFigures;
}

function cpuTimes(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

async function scrapeAll(fx: FailoverFixture): Promise<Map<number, Counters>> {
  const out = new Map<number, Counters>();
  for (const h of fx.cluster.hosts) out.set(h.id, await scrape(h.httpUrl ?? ''));
  return out;
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const priority = opts.priority ?? 'unit';
  const say = opts.progress ?? (() => undefined);
  if ((opts.load ?? true) && !stressNgAvailable()) {
    throw new YcsError('E_NOT_FOUND', 'stress-ng is missing: run scripts/setup-debian.sh (or apt-get install stress-ng)');
  }
  let load: Load | undefined;
  const fx = await startFailoverCluster('soak', {
    http: true,
    ...(opts.timeouts !== undefined ? { timeouts: opts.timeouts } : {}),
    ...priorityOption(priority),
    prepare: (dir, f) => {
      const loop = createLoop(dir, 16 << 20, 512);
      f.defer(() => loop.detach());
      return { votingDisks: [loop.device] };
    },
  });
  opts.onStarted?.(fx, () => load);
  try {
    const healthy = await fx.waitHealthy(60_000);
    await sleep(3000); // past the start-up epochs (admissions) before counting
    const before = await scrapeAll(fx);
    const linesBefore = fx.dataLines().length;
    const startWall = Date.now();
    const cpu0 = cpuTimes();
    if (opts.load ?? true) load = startLoad({ dir: fx.dir, seconds: opts.seconds });
    const workload = new Workload(fx.cluster);
    workload.start();
    say(`soak: master ${healthy.master} at epoch ${healthy.epoch}; ${opts.seconds} s${load ? ` under ${load.command}` : ' without load'}`);
    const endAt = performance.now() + opts.seconds * 1000;
    while (performance.now() < endAt) {
      await sleep(Math.min(10_000, endAt - performance.now()));
      if (load !== undefined && !load.running() && performance.now() < endAt - 1000) throw new Error('E_SOAK: stress-ng ended before the soak did');
      const left = Math.round((endAt - performance.now()) / 1000);
      if (left > 0) say(`soak: ${left} s left, ${workload.figures.healthRounds} health rounds, ${workload.figures.healthGaps} gaps, max disk heartbeat age ${workload.figures.maxDiskAgeMs.toFixed(0)} ms`);
    }
    const cpu1 = cpuTimes();
    const figures = await workload.stop();
    await load?.stop();
    const after = await scrapeAll(fx);
    const counters = new Map([...after].map(([id, c]) => [id, delta(before.get(id) as Counters, c)]));
    const totals = [...counters.values()].reduce((a, c) => ({ evictions: a.evictions + c.evictions, roleChanges: a.roleChanges + c.roleChanges, hb2Timeouts: a.hb2Timeouts + c.hb2Timeouts, incarnation: a.incarnation + c.incarnation }), { evictions: 0, roleChanges: 0, hb2Timeouts: 0, incarnation: 0 });
    const records = fx.cluster.hosts.flatMap((h) => hostRecords(fx.cluster, h.id, startWall));
    return {
      seconds: opts.seconds,
      loadCommand: load?.command ?? null,
      priority,
      counters,
      totals,
      loggedRoleChanges: records.filter((r) => r.subsystem === 'engine' && r.event === 'role-change').length,
      loggedEvictions: records.filter((r) => r.subsystem === 'engine' && r.event === 'eviction').length,
      dataViolations: fx.dataViolations(),
      dataLines: fx.dataLines().length - linesBefore,
      cpuBusy: (cpu1.busy - cpu0.busy) / Math.max(1, cpu1.total - cpu0.total),
      workload: figures,
    };
  } finally {
    await load?.stop();
    await fx.cleanup();
  }
}

/** The report lines of a soak. */
export function describeSoak(r: SoakResult): string[] {
  const w = r.workload;
  return [
    `soak of ${r.seconds} s, ${r.loadCommand ?? 'no load'}`,
    `  priority: ${describePriority(r.priority)}; CPU busy ${(r.cpuBusy * 100).toFixed(0)} %`,
    `  evictions ${r.totals.evictions}, role changes ${r.totals.roleChanges}, heartbeat-2 timeouts ${r.totals.hb2Timeouts}, ycs restarts ${r.totals.incarnation} (metrics, all hosts)`,
    `  logged: role changes ${r.loggedRoleChanges}, evictions ${r.loggedEvictions}; masters seen [${w.masters.join(',')}], epochs seen [${w.epochs.join(',')}]`,
    `  clients: ${w.healthRounds} /primary rounds (${w.healthGaps} without exactly one primary), ${w.scrapes} scrapes, ${w.statusCalls} status calls (${w.statusErrors} failed), ${r.dataLines} data lines, split-brain evidence ${r.dataViolations.length}`,
    `  margins: largest peer heartbeat age disk ${w.maxDiskAgeMs.toFixed(0)} ms, net ${w.maxNetAgeMs.toFixed(0)} ms (timeouts 2000 by default); worst 10 s window of event-loop lag p99 ${w.maxLagP99Ms.toFixed(1)} ms, max ${w.maxLagMs.toFixed(1)} ms`,
  ];
}

export function soakClean(r: SoakResult): boolean {
  return r.totals.evictions === 0 && r.totals.roleChanges === 0 && r.totals.hb2Timeouts === 0 && r.totals.incarnation === 0 && r.loggedRoleChanges === 0 && r.dataViolations.length === 0;
}
