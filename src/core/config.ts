// Engine configuration, validated once when the engine is created.

import { YcsError } from '../errors.js';
import { deriveTimeouts, type Timeouts } from './timeouts.js';
import type { HostId } from './types.js';

/**
 * Knobs that break one safety rule on purpose, so the simulator can show its checkers
 * catch the breakage. Never set in production; the daemon refuses them.
 */
export interface BrokenRules {
  /**
   * "Let two proposers both win": Disk Paxos neither aborts on a higher ballot (phase 1 or
   * 2) nor adopts an accepted value, every host proposes at once (no rank backoff) and
   * names itself master.
   */
  skipPhase1Check?: boolean;
  /** The master keeps acting after its validity window expired. */
  skipSelfFence?: boolean;
  /**
   * A newly decided master promotes at once, without fence, acknowledgement or wait; and
   * the old master, like a lease-only system, stops one lease after it learns it was
   * replaced instead of at once (otherwise the gate's absence is rarely observable).
   */
  promoteWithoutWait?: boolean;
  /**
   * A decided master fences at once when it adopts its decision, without the read that
   * shows nothing newer, and the shell is never told a queued fence is no longer wanted.
   */
  fenceWithoutRead?: boolean;
  /** A fence removes every key of its victim, also keys registered for newer epochs. */
  preemptAnyKey?: boolean;
}

export interface EngineConfig {
  hostId: HostId;
  /** Every configured host, including this one. */
  hostIds: HostId[];
  diskCount: 1 | 3 | 5;
  /** Resource names in configured order (at most 16). */
  resources: string[];
  /**
   * Per resource (configured order): shown as running (primary, standby) only once its
   * database has connected over heartbeat 2. Missing entries: not required.
   */
  heartbeat2Required?: boolean[];
  timeouts: Timeouts;
  /** Grows at every daemon start; must differ from every earlier run of this host. */
  incarnation: number;
  /** 'pr': the new master fences evicted hosts (SCSI-3 PR) and may promote once fenced. */
  fencing: 'pr' | 'none';
  /**
   * With 'pr': how many devices carry reservations (the voting disks, then the data disks,
   * in the fence shell's order); `register` and `reserve` outputs name one of them. 0 with 'none'.
   */
  fenceDeviceCount: number;
  /**
   * The highest epoch this host's own sectors showed at start (heartbeat epoch, vote
   * copies' decided epoch and instance - 1, on every disk): an epoch known to be decided.
   * The first heartbeat of a run is written before the first read, so without it a
   * restart would lose that trace (docs/engine.md, "Epoch floor"). 0 when unknown.
   */
  epochFloor?: number;
  rules?: BrokenRules;
}

export interface EngineConfigInput extends Omit<EngineConfig, 'timeouts' | 'fencing' | 'fenceDeviceCount'> {
  timeouts?: Timeouts;
  fencing?: 'pr' | 'none';
  /** Defaults to the voting disks (diskCount) with 'pr', 0 with 'none'. */
  fenceDeviceCount?: number;
}

function invalid(message: string): never {
  throw new YcsError('E_CONFIG', message);
}

export function resolveConfig(input: EngineConfigInput): EngineConfig {
  const config: EngineConfig = {
    ...input,
    hostIds: [...new Set(input.hostIds)].sort((a, b) => a - b),
    timeouts: input.timeouts ?? deriveTimeouts(),
    fencing: input.fencing ?? 'none',
    fenceDeviceCount: input.fencing === 'pr' ? (input.fenceDeviceCount ?? input.diskCount) : 0,
  };
  const isHostId = (h: number): boolean => Number.isInteger(h) && h >= 1 && h <= 255;
  if (!isHostId(config.hostId)) invalid(`hostId must be an integer 1..255, got ${config.hostId}`);
  if (!config.hostIds.every(isHostId)) invalid('hostIds must be integers 1..255');
  if (!config.hostIds.includes(config.hostId)) invalid(`hostIds must include this host (${config.hostId})`);
  if (![1, 3, 5].includes(config.diskCount)) invalid(`diskCount must be 1, 3 or 5, got ${config.diskCount}`);
  if (config.resources.length > 16) invalid('at most 16 resources');
  if ((config.heartbeat2Required?.length ?? 0) > config.resources.length) invalid('heartbeat2Required has more entries than resources');
  if (!Number.isSafeInteger(config.incarnation) || config.incarnation < 1) {
    invalid(`incarnation must be a positive safe integer, got ${config.incarnation}`);
  }
  if (config.fencing === 'pr' && (!Number.isInteger(config.fenceDeviceCount) || config.fenceDeviceCount < 1 || config.fenceDeviceCount > 64)) {
    invalid(`fenceDeviceCount must be an integer 1..64 with PR fencing, got ${config.fenceDeviceCount}`);
  }
  const floor = config.epochFloor ?? 0;
  if (!Number.isSafeInteger(floor) || floor < 0) invalid(`epochFloor must be a non-negative safe integer, got ${floor}`);
  return config;
}

/** Disks a host must read and write in time to stay a member: a strict majority. */
export function majorityOf(diskCount: number): number {
  return Math.floor(diskCount / 2) + 1;
}
