// All timeout arithmetic of ycs in one place (sanlock's timeouts.h spirit).
// Base values are configured; everything else is derived here and validated, so an
// unsafe combination fails at start-up instead of causing a split brain later.
// The reasoning is written out in docs/timeouts.md; the comments say the short version.
//
// Times are milliseconds of a host's own monotonic clock. Clocks are never compared
// across hosts; we only assume every clock runs at a rate within (1 +- rho) of real time.

import { YcsError } from '../errors.js';

export interface BaseTimeouts {
  /** DISK_HB_INTERVAL: period of the heartbeat write and of the read of both areas. */
  diskHbIntervalMs: number;
  /** DISK_HB_KEEP_ALIVE: a peer whose heartbeat sequence did not change for this long is dead. */
  diskHbKeepAliveMs: number;
  /** NETWORK_HB_INTERVAL: period of network heartbeat 1 (UDP, every pair of hosts). */
  networkHbIntervalMs: number;
  /** NETWORK_HB_TIMEOUT: a peer (heartbeat 1) or a resource (heartbeat 2) silent this long is lost. */
  networkHbTimeoutMs: number;
  /** The largest event-loop or I/O stall that must not cause an eviction ("merely slow"). */
  slowSpikeMs: number;
  /** Normal I/O latency plus tick granularity we budget on top of a spike. */
  ioMarginMs: number;
  /** Bound on clock *rate* drift: every clock runs within (1 +- rho) of real time. */
  clockDriftRho: number;
}

export interface Timeouts extends BaseTimeouts {
  /** An I/O not done within this is treated as failed by the engine (the shell may still report it). */
  diskIoDeadlineMs: number;
  /** Master validity window: acts as master only while now < start of last majority write/read + lease. */
  leaseMs: number;
  /** A promoter's own-clock wait after a decision is durable, after which the old master's window has surely ended. */
  selfFenceWaitMs: number;
  /** A gap between two engine steps longer than this means the host was paused: re-read before acting. */
  pauseBoundMs: number;
  /** How long a starting host observes the disk before judging peers (a full keep-alive). */
  startupObserveMs: number;
  /** Per-rank backoff before a non-tally host proposes, and between Paxos retries. */
  voteBackoffMs: number;
  /** Nominal master-crash-to-new-master time with nominal I/O and no fencing hardware. */
  nominalFailoverMs: number;
  /** After every fault healed, a master exists within this bound (the simulator's liveness check). */
  livenessBoundMs: number;
  /** The daemon's timer period: the engine gets a 'tick' this often. */
  tickIntervalMs: number;
  /** A failed resource action is tried again after this long. */
  resourceRetryMs: number;
  /** A failed registration of this host's key on a fenced device is tried again after this long. */
  fenceRetryMs: number;
}

/** The daemon's timer period when the pause bound allows it (docs/timeouts.md). */
export const DEFAULT_TICK_INTERVAL_MS = 50;

/** Defaults: master crash -> new master in about 4.6 s; 1 s stalls tolerated. See docs/timeouts.md. */
export const DEFAULT_BASE_TIMEOUTS: BaseTimeouts = {
  diskHbIntervalMs: 250,
  diskHbKeepAliveMs: 2000,
  networkHbIntervalMs: 250,
  networkHbTimeoutMs: 2000,
  slowSpikeMs: 1000,
  ioMarginMs: 250,
  clockDriftRho: 0.01,
};

/** Upper bound of real time that passes while a clock shows `ms` elapsed. */
export function realUpperMs(ms: number, rho: number): number {
  return ms / (1 - rho);
}

/** Own-clock time to wait so that at least `realMs` of real time has passed. */
export function ownClockForRealMs(realMs: number, rho: number): number {
  return Math.ceil(realMs * (1 + rho));
}

function fail(message: string): never {
  throw new YcsError('E_CONFIG', `unsafe timeouts: ${message}`);
}

function checkBase(base: BaseTimeouts): void {
  for (const [name, value] of Object.entries(base)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      fail(`${name} must be a finite non-negative number, got ${String(value)}`);
    }
  }
  if (base.clockDriftRho >= 0.05) fail('clockDriftRho must be below 0.05 (quartz drifts ~1e-4)');
  if (base.diskHbIntervalMs < 10) fail('diskHbIntervalMs must be at least 10');
  if (base.networkHbIntervalMs < 10) fail('networkHbIntervalMs must be at least 10');
}

/** Derives every timeout from the base values and throws E_CONFIG on an unsafe combination. */
export function deriveTimeouts(partial: Partial<BaseTimeouts> = {}): Timeouts {
  const base: BaseTimeouts = { ...DEFAULT_BASE_TIMEOUTS, ...partial };
  checkBase(base);
  const rho = base.clockDriftRho;
  const interval = base.diskHbIntervalMs;
  // A single I/O may stall for a spike and still count; beyond that it is failed.
  const diskIoDeadlineMs = base.slowSpikeMs + base.ioMarginMs;
  // The master's last successful write started at most one interval before a spike
  // began; the spike plus normal latency must fit in the window, so a slow master
  // keeps its role.
  const leaseMs = interval + base.slowSpikeMs + base.ioMarginMs;
  // A host that did not step for this long was frozen (the shell ticks far more often);
  // it re-reads the disks before acting on anything.
  const pauseBoundMs = interval;
  // After a decision is durable on a majority, every vote-area read the old master starts
  // sees it; its window (<= lease on its clock, <= lease/(1-rho) real) ends within that,
  // and unless frozen it takes one more step (< pauseBound) to stop.
  const selfFenceWaitMs = ownClockForRealMs(realUpperMs(leaseMs + pauseBoundMs, rho), rho);
  // A master that cannot write stops (lease on its clock) before a reader's keep-alive
  // (on the reader's clock) can expire: lease*(1+rho)/(1-rho) + margin < keep-alive.
  const masterStopsByMs = ownClockForRealMs(realUpperMs(leaseMs, rho), rho);
  if (masterStopsByMs + base.ioMarginMs > base.diskHbKeepAliveMs) {
    fail(
      `diskHbKeepAliveMs (${base.diskHbKeepAliveMs}) must exceed lease*(1+rho)/(1-rho) + ioMargin ` +
        `(${masterStopsByMs + base.ioMarginMs}); raise the keep-alive or lower the interval/spike`,
    );
  }
  // A reader sees a live peer's sequence change at least every write period + spike +
  // its own read period + latency; the keep-alive must exceed that gap.
  const readerGapMs = 2 * interval + base.slowSpikeMs + base.ioMarginMs;
  if (readerGapMs >= base.diskHbKeepAliveMs) {
    fail(`diskHbKeepAliveMs (${base.diskHbKeepAliveMs}) must exceed 2*interval + spike + margin (${readerGapMs})`);
  }
  const netGapMs = base.networkHbIntervalMs + base.slowSpikeMs + base.ioMarginMs;
  if (netGapMs >= base.networkHbTimeoutMs) {
    fail(`networkHbTimeoutMs (${base.networkHbTimeoutMs}) must exceed interval + spike + margin (${netGapMs})`);
  }
  // One Paxos attempt is three write rounds and two read rounds at nominal latency.
  const voteBackoffMs = 2 * interval;
  const nominalFailoverMs = base.diskHbKeepAliveMs + 2 * interval + 6 * base.ioMarginMs / 5 + selfFenceWaitMs;
  const livenessBoundMs =
    base.diskHbKeepAliveMs + // observe peers after healing
    leaseMs + // evicted hosts finish cleanup and ask to join
    8 * voteBackoffMs + // ranks and a few duelling Paxos retries
    5 * diskIoDeadlineMs + // one slow attempt
    selfFenceWaitMs; // the promoter's wait for the old master's window
  // The engine sees time only through its inputs: the timer must step it well inside the
  // pause bound, or every quiet stretch would look like a pause (re-read, act on nothing).
  // At most a fifth of the bound, so a tick late by a busy event loop still stays inside.
  const tickIntervalMs = Math.min(DEFAULT_TICK_INTERVAL_MS, Math.floor(pauseBoundMs / 5));
  if (tickIntervalMs <= 0 || tickIntervalMs >= pauseBoundMs) {
    fail(`the tick interval (${tickIntervalMs}) must be above 0 and below the pause bound (${pauseBoundMs} = diskHbIntervalMs)`);
  }
  // A failed agent action or registration is retried once per NETWORK_HB_TIMEOUT: soon
  // enough that a transient failure costs at most one heartbeat-2 timeout, slow enough not
  // to hammer a broken agent or a path that refuses every command.
  const resourceRetryMs = base.networkHbTimeoutMs;
  const fenceRetryMs = base.networkHbTimeoutMs;
  return {
    ...base,
    diskIoDeadlineMs,
    leaseMs,
    selfFenceWaitMs,
    pauseBoundMs,
    startupObserveMs: base.diskHbKeepAliveMs,
    voteBackoffMs,
    nominalFailoverMs,
    livenessBoundMs,
    tickIntervalMs,
    resourceRetryMs,
    fenceRetryMs,
  };
}

/**
 * ycsm's health window: the daemon beats ycsm's local heartbeat only while its engine
 * stepped within this long. Half a keep-alive: a wedged engine stops the beat, and ycsm,
 * waiting one keep-alive for a beat, kills and restarts ycs (and its databases) before
 * the peers' keep-alive could call this host dead while it still looks alive.
 */
export function monitorHealthWindowMs(t: Timeouts): number {
  return t.diskHbKeepAliveMs / 2;
}

/**
 * The heartbeat-2 client's reconnect backoff cap (src/client/index.ts): 8 heartbeat
 * intervals (1.6 s at 200 ms). A database whose ycs restarted is back within one
 * NETWORK_HB_TIMEOUT of ycs listening again, which reconnectWaitMs relies on.
 */
export function clientReconnectCapMs(heartbeatIntervalMs: number): number {
  return 8 * heartbeatIntervalMs;
}

/**
 * How long after ycs starts an 'unknown' resource waits for its database to reconnect over
 * heartbeat 2 before it is stopped and started afresh: two NETWORK_HB_TIMEOUTs. A database
 * whose ycs crashed keeps running (ycsm leaves it alone) and reconnects with a backoff that
 * the client library caps at 8 heartbeat intervals (1.6 s at the default 200 ms), so it is
 * back within one timeout of ycs listening again; the second covers ycs's own start.
 */
export function reconnectWaitMs(t: Timeouts): number {
  return 2 * t.networkHbTimeoutMs;
}
