// Binds the simulator's etcd mode to the lease-store engine (src/core/store-engine.ts) and
// its timing (src/core/store-timeouts.ts). A timeouts variant v is a base configuration
// of core-binding.ts (floor(v / 3)) with a lease TTL (TTL_VARIANTS[v % 3]); variant 0 is
// the default (base 0, TTL 3 s).
import type { BrokenRules } from '../../src/core/config.js';
import { createStoreEngine } from '../../src/core/store-engine.js';
import { deriveStoreTimeouts, type StoreTimeouts } from '../../src/core/store-timeouts.js';
import { deriveTimeouts, reconnectWaitMs, type Timeouts } from '../../src/core/timeouts.js';
import type { EngineBinding, EngineSetup, SimTimeouts } from './binding.js';
import { TIMEOUT_VARIANTS } from './core-binding.js';

export const TTL_VARIANTS = [3_000, 2_000, 5_000] as const;
/** The longest election the model runs (etcd.ts drawElectionMs). */
export const ELECTION_MAX_MS = 1_500;
/** Database start, promote and demote latencies (resources.ts, up to 400 ms each) and the shells' tails. */
const LIVENESS_MARGIN_MS = 2_000;

const BROKEN_RULES: ReadonlyArray<keyof BrokenRules> = ['skipSelfFence'];

interface Variant {
  t: Timeouts;
  s: StoreTimeouts;
}

const variants: Variant[] = TIMEOUT_VARIANTS.flatMap((base) => {
  const t = deriveTimeouts(base);
  return TTL_VARIANTS.map((ttl) => ({ t, s: deriveStoreTimeouts(ttl, t) }));
});

export function storeVariant(v: number): Variant {
  const x = variants[v];
  if (!x) throw new Error(`no etcd timeouts variant ${v}`);
  return x;
}

/**
 * After every fault healed, a master exists within this bound (docs/simulator.md, "etcd
 * mode"). The terms add up the worst case one after the other:
 *  - an election may run at the heal (a leader change, or a member that brought the
 *    majority back): no call is served for up to ELECTION_MAX_MS, and every lease is
 *    restarted at its end, so the last holder's lease can run a full TTL after it;
 *  - a standby's read may be lost (its deadline: callDeadlineMs) before the next poll
 *    (pollIntervalMs) sees the record gone; a host that just gave a term up waits
 *    resignHoldoffMs; its campaign may be lost too (another callDeadlineMs);
 *  - a restarted ycs waits up to reconnectWaitMs for its databases, a failed database is
 *    started again after resourceRetryMs, and a failed fence step is retried after
 *    fenceRetryMs;
 *  - two keepalive periods for a holder that lost its term to a late answer, and a margin.
 */
export function etcdLivenessBoundMs(t: Timeouts, s: StoreTimeouts): number {
  return (
    ELECTION_MAX_MS +
    s.ttlMs +
    2 * s.callDeadlineMs +
    s.pollIntervalMs +
    s.resignHoldoffMs +
    reconnectWaitMs(t) +
    t.resourceRetryMs +
    t.fenceRetryMs +
    2 * s.keepaliveIntervalMs +
    LIVENESS_MARGIN_MS
  );
}

function simTimeoutsOf({ t, s }: Variant): SimTimeouts {
  return {
    diskHbIntervalMs: t.diskHbIntervalMs,
    keepAliveMs: t.diskHbKeepAliveMs,
    netHbIntervalMs: t.networkHbIntervalMs,
    netHbTimeoutMs: t.networkHbTimeoutMs,
    ioDeadlineMs: t.diskIoDeadlineMs,
    // The daemon's timer: the store engine's margin budgets two of its periods.
    tickMs: t.tickIntervalMs,
    rho: t.clockDriftRho,
    maxSlowMs: t.slowSpikeMs,
    failoverBoundMs: etcdLivenessBoundMs(t, s),
    // A primary grant runs at most primaryGrantMs ahead (store-engine.ts grantLeases).
    leaseMs: s.primaryGrantMs,
    store: s,
  };
}

export const etcdBinding: EngineBinding = {
  timeoutVariants: variants.length,
  timeouts: (v) => simTimeoutsOf(storeVariant(v)),
  brokenRules: [...BROKEN_RULES],
  create(setup: EngineSetup) {
    const { t, s } = storeVariant(setup.timeoutsVariant);
    const rules: Pick<BrokenRules, 'skipSelfFence'> = {};
    if (setup.brokenRule) {
      if (!BROKEN_RULES.includes(setup.brokenRule as keyof BrokenRules)) {
        throw new Error(`unknown broken rule ${setup.brokenRule} in etcd mode; known: ${BROKEN_RULES.join(', ')}`);
      }
      rules.skipSelfFence = true;
    }
    return createStoreEngine({
      hostId: setup.hostId,
      hostIds: setup.hostIds,
      resources: setup.resources,
      heartbeat2Required: setup.resources.map(() => true), // every simulated database uses heartbeat 2
      timeouts: t,
      store: s,
      incarnation: setup.incarnation,
      epochFloor: 0, // as the daemon's store mode: no voting disk to read a floor from
      fencing: setup.fencing,
      // the data LUN only (test/sim/fence.ts: SimStorage(0) has the data LUN as device 0)
      fenceDeviceCount: setup.fencing === 'pr' ? 1 : 0,
      ...(setup.brokenRule ? { rules } : {}),
    });
  },
};
