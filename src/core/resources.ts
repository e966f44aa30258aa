// Resources (databases) managed by this host. The engine says what each should be
// (primary on the master, standby on a standby, offline otherwise); this module issues
// one action at a time per resource to get there, with the epoch as the fencing token,
// and watches network heartbeat 2 (the database's heartbeats over a Unix socket).
// A resource whose database must use heartbeat 2 is shown as running (primary, standby)
// only once that database has connected: before, status shows it as starting.

import { assert } from './assert.js';
import { HEARTBEAT_FLAG_AWAITING_HB2_SHIFT, type Output, type ResourceAction, type ResourceEvent, type ResourceState, type Role } from './types.js';

type Desired = 'primary' | 'standby' | 'offline';

interface Resource {
  name: string;
  state: ResourceState;
  pending: ResourceAction | null;
  /** Own clock: last heartbeat-2 or connect; null until the resource uses heartbeat 2. */
  lastHeartbeatAtMs: number | null;
  retryAtMs: number;
  failed: boolean;
  /**
   * Found running over heartbeat 2 while its state was unknown (ycs restarted, the
   * database kept running): its role is confirmed by the next action (promote on the
   * master, demote on a standby), never by a stop and start.
   */
  adopted: boolean;
  /** Its database must use heartbeat 2: shown as running only once connected. */
  hb2Required: boolean;
}

export function desiredFor(role: Role): Desired {
  if (role === 'master') return 'primary';
  if (role === 'standby') return 'standby';
  return 'offline';
}

export class Resources {
  private readonly list: Resource[];

  constructor(
    names: string[],
    private readonly heartbeatTimeoutMs: number,
    private readonly retryMs: number,
    hb2Required: boolean[] = [],
  ) {
    this.list = names.map((name, i) => ({
      name,
      state: 'unknown',
      pending: null,
      lastHeartbeatAtMs: null,
      retryAtMs: 0,
      failed: false,
      adopted: false,
      hb2Required: hb2Required[i] ?? false,
    }));
  }

  /** Own clock until which an 'unknown' resource is left alone, waiting for its database to reconnect. */
  private adoptUntilMs = -Infinity;

  /**
   * After ycs starts, its databases may still run (ycsm restarts a crashed ycs and leaves
   * them alone). Until `untilMs` an 'unknown' resource gets no action, so a database that
   * reconnects over heartbeat 2 meanwhile is adopted instead of stopped.
   */
  awaitReconnects(untilMs: number): void {
    this.adoptUntilMs = untilMs;
  }

  states(): ResourceState[] {
    return this.list.map((r) => r.state);
  }

  /** Per resource: it runs, but its database must use heartbeat 2 and has not connected (yet). */
  awaitingHb2(): boolean[] {
    return this.list.map((r) => r.hb2Required && isRunning(r.state) && r.lastHeartbeatAtMs === null);
  }

  /** What status shows for each resource (shownState). */
  shownStates(): ResourceState[] {
    const awaiting = this.awaitingHb2();
    return this.list.map((r, i) => shownState(r.state, awaiting[i] ?? false));
  }

  anyPrimary(): boolean {
    return this.list.some((r) => r.state === 'primary' || r.pending === 'promote');
  }

  /** Every resource stopped and nothing in flight: safe to ask to rejoin or to exit. */
  allStopped(): boolean {
    return this.list.every((r) => r.pending === null && r.state === 'offline');
  }

  /** Returns the index of a resource that just failed (crash report), if any. */
  onEvent(nowMs: number, index: number, event: ResourceEvent): number | null {
    const r = this.list[index];
    if (r === undefined) return null;
    switch (event) {
      case 'heartbeat':
      case 'connected':
      case 'monitor-ok':
        if (event === 'monitor-ok') return null;
        r.lastHeartbeatAtMs = nowMs;
        if (r.state === 'unknown' && r.pending === null) {
          r.state = 'standby'; // running; which role it may have is for reconcile to confirm
          r.adopted = true;
        }
        return null;
      case 'disconnected':
      case 'monitor-failed':
        r.lastHeartbeatAtMs = null;
        return this.markFailed(r, nowMs) ? index : null;
    }
  }

  onActionDone(nowMs: number, index: number, action: ResourceAction, ok: boolean): void {
    const r = this.list[index];
    if (r === undefined || r.pending !== action) return;
    r.pending = null;
    r.adopted = false;
    if (!ok) {
      r.state = 'failed';
      r.failed = true;
      r.retryAtMs = nowMs + this.retryMs;
      return;
    }
    r.failed = false;
    if (action === 'start') r.state = 'standby';
    else if (action === 'promote') r.state = 'primary';
    else if (action === 'demote') r.state = 'standby';
    else r.state = 'offline';
    if (action === 'stop') r.lastHeartbeatAtMs = null; // heartbeat 2 is watched again once it reconnects
    else if (r.lastHeartbeatAtMs !== null) r.lastHeartbeatAtMs = nowMs; // the action itself took time
  }

  /** Resources whose heartbeat 2 went silent: each becomes failed; returns their indexes. */
  checkHeartbeats(nowMs: number): number[] {
    const out: number[] = [];
    this.list.forEach((r, i) => {
      if (isRunning(r.state) && r.lastHeartbeatAtMs !== null && nowMs - r.lastHeartbeatAtMs > this.heartbeatTimeoutMs) {
        r.lastHeartbeatAtMs = null;
        if (this.markFailed(r, nowMs)) out.push(i);
      }
    });
    return out;
  }

  /** Issues the next action of every idle resource towards what `role` wants. */
  reconcile(nowMs: number, role: Role, epoch: number, out: Output[]): void {
    const desired = desiredFor(role);
    this.list.forEach((r, resource) => {
      if (this.supersede(r, desired)) {
        out.push({ kind: 'resource', resource, action: 'stop', epoch });
        return;
      }
      if (r.pending !== null || nowMs < r.retryAtMs) return;
      if (this.leaveAlone(r, role, nowMs)) return;
      // An adopted database on a standby is told its role by a demote (idempotent).
      const action = r.adopted && desired === 'standby' ? 'demote' : nextAction(r.state, desired);
      if (action === null) return;
      // A database is promoted only on the master, and with the epoch it is master of.
      assert(action !== 'promote' || (role === 'master' && epoch > 0), () => `promote of ${r.name} in role ${role} at epoch ${epoch}`);
      r.pending = action;
      if (action === 'start' || action === 'promote') r.state = 'starting';
      out.push({ kind: 'resource', resource, action, epoch });
    });
  }

  /**
   * A promote (or start) still in flight when the role no longer wants it is overtaken by
   * a stop at once: waiting for it would let a self-fenced master's database become
   * primary after the new master's. Until the stop is done the resource counts as primary.
   */
  private supersede(r: Resource, desired: Desired): boolean {
    const promoteUnwanted = r.pending === 'promote' && desired !== 'primary';
    const startUnwanted = r.pending === 'start' && desired === 'offline';
    if (!promoteUnwanted && !startUnwanted) return false;
    if (promoteUnwanted) r.state = 'primary';
    r.pending = 'stop';
    return true;
  }

  /**
   * A restarted ycs does not stop what it cannot see yet: while 'starting' it leaves
   * unknown and adopted resources alone (it may resume as master or standby), and for a
   * while after start it waits for an unknown database to reconnect. Safety does not
   * depend on it: a database without a heartbeat-2 lease does not write.
   */
  private leaveAlone(r: Resource, role: Role, nowMs: number): boolean {
    if (role === 'starting') return r.state === 'unknown' || r.adopted;
    return r.state === 'unknown' && nowMs < this.adoptUntilMs && (role === 'master' || role === 'standby');
  }

  private markFailed(r: Resource, nowMs: number): boolean {
    r.adopted = false;
    if (r.state === 'offline' || r.state === 'unknown' || r.state === 'failed') return false;
    r.state = 'failed';
    r.failed = true;
    r.retryAtMs = nowMs;
    return true;
  }
}

function isRunning(state: ResourceState): boolean {
  return state === 'standby' || state === 'primary';
}

/** A running resource whose database has not connected over a required heartbeat 2 is shown as starting. */
export function shownState(state: ResourceState, awaitingHb2: boolean): ResourceState {
  return awaitingHb2 && isRunning(state) ? 'starting' : state;
}

/** HeartbeatPayload.flags bits for the resources awaiting heartbeat 2. */
export function awaitingHb2Flags(awaiting: boolean[]): number {
  return awaiting.reduce((flags, a, i) => (a ? flags | (1 << (HEARTBEAT_FLAG_AWAITING_HB2_SHIFT + i)) : flags), 0) >>> 0;
}

/** Whether a peer's heartbeat flags say resource `index` awaits heartbeat 2. */
export function awaitsHb2(flags: number, index: number): boolean {
  return ((flags >>> (HEARTBEAT_FLAG_AWAITING_HB2_SHIFT + index)) & 1) === 1;
}

function nextAction(state: ResourceState, desired: Desired): ResourceAction | null {
  if (desired === 'offline') return state === 'offline' ? null : 'stop';
  if (state === 'failed' || state === 'unknown') return 'stop'; // clean up before (re)starting
  if (state === 'offline') return 'start';
  if (desired === 'primary') return state === 'standby' ? 'promote' : null;
  return state === 'primary' ? 'demote' : null;
}
