// What this host publishes about itself: its disk heartbeat (every DISK_HB_INTERVAL, with
// the read of both areas) and network heartbeat 1 (every NETWORK_HB_INTERVAL). The
// sequences only grow; the epoch shown never goes below the epoch floor.
//
// Out of cycle (docs/engine.md, "Out-of-cycle heartbeats"): a heartbeat goes at once when
// what it shows changed (role, epoch, master, resource states, flags), so that a decision,
// a step-down or an acknowledgement reaches the others without waiting for the interval.
// The engine also asks for the disk heartbeat and its read soon (at most once per tick)
// when a peer's network heartbeat shows a newer epoch than the one followed here, and on
// every tick while it waits at the promotion gate.

import { assert } from './assert.js';
import { awaitingHb2Flags } from './resources.js';
import type { Timeouts } from './timeouts.js';
import { HEARTBEAT_FLAG_PROMOTING, type Decision, type HeartbeatPayload, type HostId, type NetHeartbeat, type ResourceState, type Role, type SlotRecord } from './types.js';

/** The engine state a heartbeat shows, but for the peers heard (costly to compute, not news). */
export interface Shown {
  role: Role;
  decision: Decision | null;
  resources: ResourceState[];
  /** Per resource: running but waiting for its database's heartbeat 2 (flags bits 16..31). */
  awaitingHb2: boolean[];
  promoting: boolean;
}

/** Everything a heartbeat shows. */
export interface Published extends Shown {
  heard: HostId[];
}

export function flagsOf(promoting: boolean, awaitingHb2: boolean[] = []): number {
  return ((promoting ? HEARTBEAT_FLAG_PROMOTING : 0) | awaitingHb2Flags(awaitingHb2)) >>> 0;
}

/** What a network heartbeat shows that others act on: a change of it is sent out of cycle. */
function shownOnNet(p: Shown): string {
  return `${p.role} ${p.decision?.epoch ?? 0} ${p.decision?.masterId ?? 0}`;
}

/** The same for a disk heartbeat, which also shows the resources and the flags. */
function shownOnDisk(p: Shown): string {
  return `${shownOnNet(p)} ${p.resources.join(',')} ${flagsOf(p.promoting, p.awaitingHb2)}`;
}

export class Publisher {
  private nextDiskAtMs = 0;
  private nextNetAtMs = 0;
  private lastDiskAtMs = -Infinity;
  private shownOnDisk: string | null = null;
  private shownOnNet: string | null = null;
  private hbSeq = 0;
  private netSeq = 0;

  constructor(
    private readonly self: HostId,
    private readonly incarnation: number,
    private readonly epochFloor: number,
    private readonly t: Timeouts,
  ) {}

  /** The disk heartbeat and the read go at this step (after a pause, for a fence's read). */
  hurry(nowMs: number): void {
    this.nextDiskAtMs = Math.min(this.nextDiskAtMs, nowMs);
  }

  /** The disk heartbeat and the read at this step, or a tick after the last ones if that is later. */
  hurrySoon(nowMs: number): void {
    this.nextDiskAtMs = Math.min(this.nextDiskAtMs, Math.max(nowMs, this.lastDiskAtMs + this.t.tickIntervalMs));
  }

  /** Whether the disk heartbeat (and the read) is due, at its interval or because what it shows changed. */
  diskDue(nowMs: number, p: Shown): boolean {
    if (nowMs < this.nextDiskAtMs && shownOnDisk(p) === this.shownOnDisk) return false;
    this.nextDiskAtMs = nowMs + this.t.diskHbIntervalMs;
    this.lastDiskAtMs = nowMs;
    return true;
  }

  heartbeatRecord(p: Published): SlotRecord<HeartbeatPayload> {
    this.shownOnDisk = shownOnDisk(p);
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

  /** Whether network heartbeat 1 is due, at its interval or because what it shows changed. */
  netDue(nowMs: number, p: Shown): boolean {
    return nowMs >= this.nextNetAtMs || shownOnNet(p) !== this.shownOnNet;
  }

  /** Network heartbeat 1 (when netDue); the next one is scheduled. */
  netMessage(nowMs: number, p: Published): NetHeartbeat {
    this.nextNetAtMs = nowMs + this.t.networkHbIntervalMs;
    this.shownOnNet = shownOnNet(p);
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
