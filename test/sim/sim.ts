// One simulated run: draw the knobs from the seed, start the hosts, inject the fault
// schedule, heal everything at healAtMs, then require a master within the documented bound
// (liveness). Stops at the first violation. Same seed, same binding -> same result and
// same trace hash.
import type { EngineBinding } from './binding.js';
import type { Violation } from './checkers.js';
import { healAll, injectRandomFault } from './faults.js';
import { describeKnobs, drawKnobs, type Knobs, type Mode } from './knobs.js';
import { World } from './world.js';

export interface RunOptions {
  mode?: Mode;
  trace?: boolean;
  brokenRule?: string;
  /** A lying disk: a write reported durable is lost with these odds (breaks Disk Paxos on purpose). */
  lyingDiskOdds?: number;
  /** Simulated length of the fault phase; the liveness phase follows. */
  faultPhaseMs?: number;
}

export interface RunResult {
  seed: number;
  knobs: Knobs;
  ok: boolean;
  violations: Violation[];
  traceHash: string;
  steps: number;
  endMs: number;
  /** From the heal to the first acting master; undefined if none appeared. */
  healToMasterMs: number | undefined;
  logCounts: Record<string, number>;
  traceLines: string[];
}

export const DEFAULT_FAULT_PHASE_MS = 30_000;
const PROBE_MS = 50;
/** After the first master appears, the run goes on this long and must still have one. */
const STABLE_MS = 3_000;

export function runSeed(seed: number, binding: EngineBinding, options: RunOptions = {}): RunResult {
  const mode = options.mode ?? 'sweep';
  const faultPhaseMs = options.faultPhaseMs ?? (mode === 'scale' ? 15_000 : DEFAULT_FAULT_PHASE_MS);
  const knobs = drawKnobs(seed, mode, { timeoutVariants: binding.timeoutVariants, faultPhaseMs });
  const w = new World(knobs, binding, {
    trace: options.trace ?? false,
    ...(options.brokenRule ? { brokenRule: options.brokenRule } : {}),
    ...(options.lyingDiskOdds ? { lyingDiskOdds: options.lyingDiskOdds } : {}),
  });
  w.trace.note(0, 0, 'knobs', () => describeKnobs(knobs));
  for (const h of w.hosts) {
    w.at(w.rng.host.range(0, 2_000), { code: 'boot', host: 0, gate: 'none', inc: -1, run: () => h.start() });
  }
  for (let i = 0; i < knobs.faultCount; i++) {
    const atMs = w.rng.faults.range(knobs.warmupMs, knobs.healAtMs);
    w.at(atMs, { code: 'fault', host: 0, gate: 'none', inc: -1, run: () => injectRandomFault(w) });
  }
  const boundMs = w.timeouts.failoverBoundMs;
  const livenessDeadline = knobs.healAtMs + boundMs;
  w.at(knobs.healAtMs, { code: 'heal', host: 0, gate: 'none', inc: -1, run: () => healAll(w) });
  runChecked(w, knobs.healAtMs);
  // Liveness: probe for an acting master until the bound; then keep checking a while.
  let healToMasterMs: number | undefined;
  while (!w.check.failed && healToMasterMs === undefined && w.now <= livenessDeadline) {
    if (w.check.actingMaster()) healToMasterMs = w.now - knobs.healAtMs;
    else runChecked(w, w.now + PROBE_MS);
  }
  if (!w.check.failed && healToMasterMs === undefined) {
    w.check.violation('no-master-after-heal', 0, `no acting master ${boundMs} ms after the heal (bound)`);
  }
  runChecked(w, w.now + STABLE_MS);
  if (!w.check.failed && !w.check.actingMaster()) {
    w.check.violation('master-lost-after-heal', 0, `no acting master ${STABLE_MS} ms after one appeared`);
  }
  return {
    seed,
    knobs,
    ok: !w.check.failed,
    violations: w.check.violations,
    traceHash: w.trace.digest(),
    steps: w.stepCount,
    endMs: w.now,
    healToMasterMs,
    logCounts: Object.fromEntries(w.check.logCounts),
    traceLines: w.trace.lines,
  };
}

/** Run until `untilMs`, stopping at the first violation. */
export function runChecked(w: World, untilMs: number): void {
  while (!w.check.failed) {
    const t = w.queue.peekTime();
    if (t === undefined || t > untilMs) break;
    w.runUntil(t);
  }
  if (!w.check.failed) w.now = Math.max(w.now, untilMs);
}
