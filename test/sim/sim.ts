// One simulated run: draw the knobs from the seed, start the hosts, inject the fault
// schedule, heal everything at healAtMs, then require a master within the documented bound
// (liveness). Stops at the first violation. Same seed, same binding -> same result and
// same trace hash.
import type { EngineBinding } from './binding.js';
import type { Violation } from './checkers.js';
import { healAll, injectRandomFault } from './faults.js';
import { describeKnobs, drawEtcdKnobs, drawKnobs, type Knobs, type Mode } from './knobs.js';
import { World } from './world.js';

export interface RunOptions {
  mode?: Mode;
  trace?: boolean;
  brokenRule?: string;
  /** A lying disk: a write reported durable is lost with these odds (breaks Disk Paxos on purpose). */
  lyingDiskOdds?: number;
  /** Simulated length of the fault phase; the liveness phase follows. */
  faultPhaseMs?: number;
  /** Three times the faults plus five, aimed mostly at the master. */
  stress?: boolean;
  /** 2 (default): every fault kind; 1: the model before wedges (old regression seeds). */
  faultModel?: 1 | 2;
  /**
   * etcd mode: the lease store instead of voting disks. Pass the store binding
   * (store-binding.ts etcdBinding) as the binding; the etcd faults join the schedule.
   */
  etcd?: boolean;
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
/** 64 and 255 hosts cost O(n^2) network heartbeats per simulated second: shorter runs. */
export const SCALE_FAULT_PHASE_MS = 8_000;
const PROBE_MS = 50;
/** After the first master appears, the run goes on this long and must still have one. */
const STABLE_MS = 3_000;

export function runSeed(seed: number, binding: EngineBinding, options: RunOptions = {}): RunResult {
  const mode = options.mode ?? 'sweep';
  const faultPhaseMs = options.faultPhaseMs ?? (mode === 'scale' ? SCALE_FAULT_PHASE_MS : DEFAULT_FAULT_PHASE_MS);
  const drawn = drawKnobs(seed, mode, { timeoutVariants: binding.timeoutVariants, faultPhaseMs });
  const stressed = options.stress ? { ...drawn, faultCount: drawn.faultCount * 3 + 5, masterBias: 0.9 } : drawn;
  const ttlMs = options.etcd ? binding.timeouts(drawn.timeoutsVariant).store?.ttlMs : undefined;
  if (options.etcd && ttlMs === undefined) throw new Error('etcd mode needs the store binding (store-binding.ts)');
  const knobs: Knobs = ttlMs === undefined ? stressed : { ...stressed, etcd: drawEtcdKnobs(seed, ttlMs) };
  const w = new World(knobs, binding, {
    trace: options.trace ?? false,
    ...(options.brokenRule ? { brokenRule: options.brokenRule } : {}),
    ...(options.lyingDiskOdds ? { lyingDiskOdds: options.lyingDiskOdds } : {}),
    ...(options.faultModel ? { faultModel: options.faultModel } : {}),
    ...(options.etcd ? { etcd: true } : {}),
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
  const healToMasterMs = checkLiveness(w, livenessDeadline, boundMs);
  return resultOf(w, seed, healToMasterMs);
}

/** What a finished run reports. */
export function resultOf(w: World, seed: number, healToMasterMs: number | undefined): RunResult {
  const knobs = w.knobs;
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

/**
 * Liveness after the heal: within the bound, some host must act as master and keep
 * acting for STABLE_MS. Returns the time from the heal to that master's first probe.
 */
export function checkLiveness(w: World, deadlineMs: number, boundMs: number): number | undefined {
  const healAtMs = w.knobs.healAtMs;
  let firstSeenMs: number | undefined;
  let holder: ReturnType<typeof w.check.actingMaster>;
  let sinceMs = 0;
  while (!w.check.failed && w.now <= deadlineMs + STABLE_MS) {
    const m = w.check.actingMaster();
    if (m !== holder) {
      holder = m;
      sinceMs = w.now;
    }
    if (m && firstSeenMs === undefined) firstSeenMs = w.now - healAtMs;
    if (m && w.now - sinceMs >= STABLE_MS) return firstSeenMs;
    if (!m && w.now > deadlineMs) break;
    runChecked(w, w.now + PROBE_MS);
  }
  if (!w.check.failed) {
    const what = firstSeenMs === undefined ? 'no acting master' : `no master that held for ${STABLE_MS} ms`;
    w.check.violation('no-master-after-heal', 0, `${what} within ${boundMs} ms after the heal (bound)`);
  }
  return firstSeenMs;
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
