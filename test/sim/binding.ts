// What the simulator needs from the engine under test, in one place: how to create one
// host's engine and the timeouts it runs with. main.ts and the tests bind this to
// src/core (engine.ts, timeouts.ts); a test may bind a stand-in to exercise the harness.
import type { StoreTimeouts } from '../../src/core/store-timeouts.js';
import type { ClusterView, HostId, Input, Output } from '../../src/core/types.js';

export interface SimEngine {
  step(input: Input): Output[];
  view(): ClusterView;
  /** Engine.fenceWanted: asked just before a queued fence reaches the storage (absent: always). */
  fenceWanted?(victim: HostId, epoch: number): boolean;
  /** Engine.mayPreempt: asked for each key of the victim a fence read (absent: always). */
  mayPreempt?(keyEpoch: number | null, fenceEpoch: number): boolean;
}

/** The timing facts the shells need; all derived by src/core/timeouts.ts. */
export interface SimTimeouts {
  diskHbIntervalMs: number;
  keepAliveMs: number; // DISK_HB_KEEP_ALIVE
  netHbIntervalMs: number;
  netHbTimeoutMs: number; // NETWORK_HB_TIMEOUT
  ioDeadlineMs: number; // an I/O still in the kernel after this is reported 'timeout'
  tickMs: number; // how often the shell feeds a 'tick'
  rho: number; // bound on clock-rate drift, as a fraction (0.01 = 1%)
  maxSlowMs: number; // event-loop / I/O latency spike a slow host may have without eviction
  failoverBoundMs: number; // documented bound: faults healed -> a master exists
  leaseMs: number; // the master window; a primary grant never runs further ahead
  store?: StoreTimeouts; // etcd mode: the lease-store engine's timing (store-binding.ts)
}

export interface EngineSetup {
  hostId: HostId;
  hostIds: HostId[];
  diskCount: number;
  resources: string[];
  incarnation: number;
  /** Highest epoch the host's own sectors showed at start (EngineConfig.epochFloor). */
  epochFloor: number;
  fencing: 'pr' | 'none';
  timeoutsVariant: number;
  /** Name of a deliberately broken rule (tests only), passed to the engine's `rules`. */
  brokenRule?: string;
}

export interface EngineBinding {
  /** Number of valid timeout variants; variant 0 is the default configuration. */
  timeoutVariants: number;
  timeouts(variant: number): SimTimeouts;
  create(setup: EngineSetup): SimEngine;
  /** Names of the broken rules the engine offers (for the broken-rule test). */
  brokenRules: string[];
}
