// Binds the simulator to the real engine (src/core/engine.ts) and its timeouts
// (src/core/timeouts.ts). Timeout variants are base configurations an operator could
// choose; each one goes through deriveTimeouts, which refuses unsafe combinations.
import type { BrokenRules } from '../../src/core/config.js';
import { createEngine } from '../../src/core/engine.js';
import { deriveTimeouts, type BaseTimeouts, type Timeouts } from '../../src/core/timeouts.js';
import type { EngineBinding, EngineSetup, SimTimeouts } from './binding.js';

/** Variant 0 is the default configuration; the others stay within the valid range. */
export const TIMEOUT_VARIANTS: ReadonlyArray<Partial<BaseTimeouts>> = [
  {},
  { diskHbKeepAliveMs: 3_000, networkHbTimeoutMs: 3_000 },
  { diskHbIntervalMs: 100, networkHbIntervalMs: 100, diskHbKeepAliveMs: 1_500, networkHbTimeoutMs: 1_500, slowSpikeMs: 500, ioMarginMs: 150 },
  { diskHbIntervalMs: 500, networkHbIntervalMs: 500, diskHbKeepAliveMs: 5_000, networkHbTimeoutMs: 3_000, clockDriftRho: 0.02 },
];

const BROKEN_RULES: ReadonlyArray<keyof BrokenRules> = ['skipPhase1Check', 'skipSelfFence', 'promoteWithoutWait', 'fenceWithoutRead', 'preemptAnyKey'];
/**
 * What the broken-rules test breaks, one entry each; `a+b` breaks both. A stale fence is
 * stopped twice (the fencer's read, then the epoch in the keys): either layer alone
 * holds in the simulator's fault model, so only both broken together must be caught.
 */
const CAUGHT_BREAKAGES = ['skipPhase1Check', 'skipSelfFence', 'promoteWithoutWait', 'fenceWithoutRead+preemptAnyKey'];

const derived = TIMEOUT_VARIANTS.map((v) => deriveTimeouts(v));

function coreTimeouts(variant: number): Timeouts {
  const t = derived[variant];
  if (!t) throw new Error(`no timeouts variant ${variant}`);
  return t;
}

/**
 * The shell's timer period. The engine budgets tick granularity inside ioMarginMs, so a
 * tick of at most 100 ms (and at most interval/2.5) keeps every deadline in time.
 */
export function tickMsFor(t: Timeouts): number {
  return Math.min(100, t.diskHbIntervalMs / 2.5);
}

export function simTimeouts(t: Timeouts): SimTimeouts {
  return {
    diskHbIntervalMs: t.diskHbIntervalMs,
    keepAliveMs: t.diskHbKeepAliveMs,
    netHbIntervalMs: t.networkHbIntervalMs,
    netHbTimeoutMs: t.networkHbTimeoutMs,
    ioDeadlineMs: t.diskIoDeadlineMs,
    tickMs: tickMsFor(t),
    rho: t.clockDriftRho,
    maxSlowMs: t.slowSpikeMs,
    failoverBoundMs: t.livenessBoundMs,
    leaseMs: t.leaseMs,
  };
}

export const coreBinding: EngineBinding = {
  timeoutVariants: TIMEOUT_VARIANTS.length,
  timeouts: (variant) => simTimeouts(coreTimeouts(variant)),
  brokenRules: CAUGHT_BREAKAGES,
  create(setup: EngineSetup) {
    const rules: BrokenRules = {};
    for (const rule of setup.brokenRule?.split('+') ?? []) {
      if (!BROKEN_RULES.includes(rule as keyof BrokenRules)) {
        throw new Error(`unknown broken rule ${rule}; known: ${BROKEN_RULES.join(', ')} (join two with +)`);
      }
      rules[rule as keyof BrokenRules] = true;
    }
    return createEngine({
      hostId: setup.hostId,
      hostIds: setup.hostIds,
      diskCount: setup.diskCount as 1 | 3 | 5,
      resources: setup.resources,
      heartbeat2Required: setup.resources.map(() => true), // every simulated database uses heartbeat 2
      timeouts: coreTimeouts(setup.timeoutsVariant),
      incarnation: setup.incarnation,
      epochFloor: setup.epochFloor,
      fencing: setup.fencing,
      // the voting disks and the shared data LUN (test/sim/fence.ts numbers them so)
      fenceDeviceCount: setup.fencing === 'pr' ? setup.diskCount + 1 : 0,
      ...(setup.brokenRule ? { rules } : {}),
    });
  },
};
