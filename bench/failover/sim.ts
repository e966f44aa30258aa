// The simulator's failover time for the benchmark's fault kinds, with the settings of the
// real runs: three hosts, the default timeouts (variant 0), quiet disks and network, the
// same fencing. The run shape is test/sim/report.ts's (settle a master, fault at a random
// moment, time until the outcome); only the host count and the fault kinds differ, so it
// is built here from the simulator's own parts rather than by calling failoverReport.
import { coreBinding } from '../../test/sim/core-binding.js';
import { applyFault, type Fault } from '../../test/sim/faults.js';
import { reportKnobs, settle } from '../../test/sim/report.js';
import { runChecked } from '../../test/sim/sim.js';
import { World } from '../../test/sim/world.js';

export type SimFault = 'db-crash' | 'crash' | 'pause' | 'ycs-crash';

export interface SimSample {
  ms: number | undefined;
  violations: number;
}

const LIMIT_MS = 60_000;

function faultOf(kind: SimFault, host: number, ycsRestartMs: number): Fault {
  switch (kind) {
    case 'db-crash':
      return { kind: 'db-crash', host, resource: 0 };
    case 'crash':
      return { kind: 'crash', host, downMs: null, powerLoss: false };
    case 'pause':
      return { kind: 'pause', host, durationMs: 1e9 };
    case 'ycs-crash':
      return { kind: 'ycs-crash', host, downMs: ycsRestartMs };
  }
}

/**
 * One simulated run. The outcome timed: another host promoted, or for 'ycs-crash' (no
 * failover wanted) the same host acting as master again after its ycs restarted.
 */
export function simSample(seed: number, kind: SimFault, fencing: 'pr' | 'none', ycsRestartMs: number): SimSample {
  const w = new World({ ...reportKnobs(seed, coreBinding, fencing), hostCount: 3 }, coreBinding, { trace: false });
  for (const h of w.hosts) w.at(w.rng.host.range(0, 500), { code: 'boot', host: 0, gate: 'none', inc: -1, run: () => h.start() });
  const master = settle(w);
  if (!master) return { ms: undefined, violations: w.check.violations.length };
  runChecked(w, w.now + w.rng.faults.range(0, 500));
  const faultAtMs = w.now;
  const eventsBefore = w.check.masterEvents.length;
  applyFault(w, faultOf(kind, master.id, ycsRestartMs));
  let ms: number | undefined;
  while (ms === undefined && w.now < faultAtMs + LIMIT_MS && !w.check.failed) {
    runChecked(w, w.now + 10);
    const events = w.check.masterEvents.slice(eventsBefore);
    const e = kind === 'ycs-crash' ? events.find((m) => m.host === master.id) : events.find((m) => m.host !== master.id);
    if (e !== undefined) ms = e.atMs - faultAtMs;
  }
  runChecked(w, w.now + 3_000);
  return { ms, violations: w.check.violations.length };
}

export function simSamples(runs: number, kind: SimFault, fencing: 'pr' | 'none', ycsRestartMs: number): SimSample[] {
  return Array.from({ length: runs }, (_, i) => simSample(i + 1, kind, fencing, ycsRestartMs));
}
