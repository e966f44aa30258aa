// What this host publishes about itself: its disk heartbeat (every DISK_HB_INTERVAL, with
// the read of both areas) and network heartbeat 1 (every NETWORK_HB_INTERVAL). The
// sequences only grow; the epoch shown never goes below the epoch floor.

import { assert } from './assert.js';
import { awaitingHb2Flags } from './resources.js';
import type { Timeouts } from './timeouts.js';
import { HEARTBEAT_FLAG_PROMOTING, type Decision, type HeartbeatPayload, type HostId, type NetHeartbeat, type ResourceState, type Role, type SlotRecord } from './types.js';

/** The engine state a heartbeat shows. */
export interface Published {
  role: Role;
  decision: Decision | null;
  heard: HostId[];
  resources: ResourceState[];
  /** Per resource: running but waiting for its database's heartbeat 2 (flags bits 16..31). */
  awaitingHb2: boolean[];
  promoting: boolean;
}

export function flagsOf(promoting: boolean, awaitingHb2: boolean[] = []): number {
  return ((promoting ? HEARTBEAT_FLAG_PROMOTING : 0) | awaitingHb2Flags(awaitingHb2)) >>> 0;
}

export class Publisher {
  private nextDiskAtMs = 0;
  private nextNetAtMs = 0;
  private hbSeq = 0;
  private netSeq = 0;

  constructor(
    private readonly self: HostId,
    private readonly incarnation: number,
    private readonly epochFloor: number,
    private readonly t: Timeouts,
  ) {}

  /** After a pause: the next step writes and reads at once. */
  hurry(nowMs: number): void {
    this.nextDiskAtMs = nowMs;
  }

  /** Whether the disk heartbeat (and the read) is due; if so the next one is scheduled. */
  diskDue(nowMs: number): boolean {
    if (nowMs < this.nextDiskAtMs) return false;
    this.nextDiskAtMs = nowMs + this.t.diskHbIntervalMs;
    return true;
  }

  heartbeatRecord(p: Published): SlotRecord<HeartbeatPayload> {
    const payload: HeartbeatPayload = {
      role: p.role,
      ...this.publishedEpoch(p.decision),
      heard: p.heard,
      resources: p.resources.map((state) => ({ state })),
      flags: flagsOf(p.promoting, p.awaitingHb2),
    };
    assert(payload.epoch >= this.epochFloor, () => `heartbeat shows epoch ${payload.epoch} below the floor ${this.epochFloor}`);
    return { hostId: this.self, incarnation: this.incarnation, sequence: ++this.hbSeq, payload };
  }

  /** Network heartbeat 1, when due. */
  netMessage(nowMs: number, p: Published): NetHeartbeat | null {
    if (nowMs < this.nextNetAtMs) return null;
    this.nextNetAtMs = nowMs + this.t.networkHbIntervalMs;
    return {
      from: this.self,
      incarnation: this.incarnation,
      sequence: ++this.netSeq,
      role: p.role,
      epoch: p.decision?.epoch ?? 0,
      masterId: p.decision?.masterId ?? 0,
      heard: p.heard,
    };
  }

  /**
   * The epoch (and its master) our disk heartbeats show. Never below the floor: a heartbeat is
   * the durable trace of the epoch this host followed, and the next run's floor; until the
   * real decision is learned the floor is shown with master 0 (unknown), which peers read
   * as "not caught up" (withoutFloorOnly in the engine).
   */
  private publishedEpoch(d: Decision | null): { epoch: number; masterId: HostId } {
    if (d === null || d.epoch < this.epochFloor) return { epoch: this.epochFloor, masterId: 0 };
    return { epoch: d.epoch, masterId: d.masterId };
  }
}
