// The role this host plays and the decision it follows (docs/engine.md, docs/transitions.md):
// adopting a decision, the promotion gate, stepping down when the window ends, cleaning up
// after an eviction and rejoining. Every role change goes through transition(), which
// runs the table of src/core/transitions.ts and revokes write authority when a master
// stops being one.

import type { DiskPaxosArbiter } from './arbitration.js';
import { assert } from './assert.js';
import type { EngineConfig } from './config.js';
import type { Detector } from './detection.js';
import type { LeaseGrants } from './leases.js';
import type { Membership } from './membership.js';
import { learnedDecision, sameDecision, type currentBlocks } from './paxos.js';
import type { PromotionGate } from './promotion.js';
import type { Proposer } from './proposer.js';
import type { Resources } from './resources.js';
import type { StorageFencing } from './storage-fencing.js';
import type { Timeouts } from './timeouts.js';
import { requireTransition, type RoleEvent } from './transitions.js';
import type { Decision, HostId, LogLevel, Output, Role } from './types.js';
import type { MasterWindow } from './window.js';

export const LOG_PRIMARY = 'ycs run as primary successfully';
export const LOG_JOIN = 'try join primary';

/** The parts of the engine a role change reads or acts on. */
export interface RoleParts {
  window: MasterWindow;
  fencing: StorageFencing;
  leases: LeaseGrants;
  promotion: PromotionGate;
  membership: Membership;
  arbiter: DiskPaxosArbiter;
  proposer: Proposer;
  detector: Detector;
  resources: Resources;
  log(out: Output[], level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export class HostRole {
  #role: Role = 'starting';
  #decision: Decision | null = null;
  private roleSinceMs = 0;
  private brokenStepDownAtMs: number | null = null;
  private readonly self: HostId;
  private readonly t: Timeouts;

  constructor(
    private readonly config: EngineConfig,
    private readonly epochFloor: number,
    private readonly p: RoleParts,
  ) {
    this.self = config.hostId;
    this.t = config.timeouts;
  }

  get role(): Role {
    return this.#role;
  }

  get decision(): Decision | null {
    return this.#decision;
  }

  start(nowMs: number): void {
    this.roleSinceMs = nowMs;
  }

  /** Invariant 2: act as master (or stay a member) only inside the window. */
  windowValid(now: number): boolean {
    return this.p.window.valid(now, this.#role, this.roleSinceMs);
  }

  /** Our I/O met a RESERVATION CONFLICT: we were fenced. */
  onFenced(now: number, out: Output[]): void {
    if (this.#role === 'leaving' || this.#role === 'evicted') return;
    this.transition('reservation-conflict', now, out);
  }

  onResourceFailed(now: number, index: number, why: string, out: Output[]): void {
    this.p.log(out, 'warn', 'resource failed', { resource: this.config.resources[index], why });
    if (this.#role === 'master') this.transition('resource-failed', now, out);
  }

  learn(now: number, blocks: ReturnType<typeof currentBlocks>, out: Output[]): void {
    const learned = learnedDecision(blocks);
    if (learned === null) return;
    const current = this.#decision;
    if (current !== null && learned.epoch === current.epoch && !sameDecision(learned, current)) {
      this.p.log(out, 'error', 'two different decisions for one epoch', { learned, current });
      assert(this.config.rules !== undefined, () => `two decisions for epoch ${learned.epoch}`);
    }
    if (current === null || learned.epoch > current.epoch) this.adopt(now, learned, 'read from the voting disk', out);
  }

  adopt(now: number, d: Decision, how: string, out: Output[]): void {
    const previous = this.#decision;
    assert(previous === null || d.epoch > previous.epoch, () => `epoch ${d.epoch} adopted after ${previous?.epoch}`);
    assert(d.members.includes(d.masterId), () => `decision ${d.epoch} names master ${d.masterId} outside its members`);
    this.#decision = { ...d, members: [...d.members] };
    const member = d.members.includes(this.self);
    this.p.promotion.onDecision(); // durability is measured afresh; a pending promotion is void
    this.p.proposer.onAdopt();
    this.p.log(out, 'info', 'decision adopted', { epoch: d.epoch, masterId: d.masterId, members: d.members, how });
    this.p.membership.onAdopt(now, previous, d, out);
    // Our block carrying the decision, durable on a majority, starts the promoter's wait.
    this.p.arbiter.onDecisionKnown(now, this.#decision, out);
    if (this.#role === 'leaving') return;
    if (member) this.registerIfAllowed(now, out); // a fencer must hold a key: before any fence
    // A master that missed an epoch cannot know who was master in it: it steps down and
    // promotes again through the gate, like any standby.
    const continuous = previous !== null && previous.epoch + 1 === d.epoch && previous.masterId === this.self;
    if (this.#role === 'master' && !(member && d.masterId === this.self && continuous)) {
      if (this.config.rules?.promoteWithoutWait === true) {
        this.brokenStepDownAtMs ??= now + this.t.leaseMs; // broken on purpose (tests only): trusts only its lease
        return;
      }
      this.transition(member ? 'decided-standby' : 'decided-evicted', now, out);
    }
    if (member && d.masterId === this.self) {
      if (this.#role !== 'master') this.p.promotion.begin(d.epoch);
      // A preempt without a reservation on the device fences nobody: reserve first.
      if (this.config.fencing === 'pr') this.p.fencing.reserve(d.epoch, out);
      this.p.fencing.fenceOutside(d, this.config.hostIds, now);
      if (this.#role === 'master') this.transition('promote-ready', now, out);
    } else if (member) {
      const wasStandby = this.#role === 'standby';
      this.transition('decided-standby', now, out);
      if (!wasStandby || previous?.masterId !== d.masterId) this.p.log(out, 'info', LOG_JOIN, { masterId: d.masterId, epoch: d.epoch });
    } else {
      this.transition('decided-evicted', now, out);
    }
  }

  /** Registers at the storage while a decision admits us (design: never before). */
  registerIfAllowed(now: number, out: Output[]): void {
    const d = this.#decision;
    if (d === null || !d.members.includes(this.self)) return;
    if (!this.p.fencing.mayRegister(d.epoch, (ms) => this.p.window.readSince(ms))) return;
    this.p.fencing.register(now, d.epoch, out);
  }

  /**
   * A host that stopped on its own (window expired, fenced) while the current decision
   * still lists it as a standby member rejoins directly: the cluster never evicted it.
   */
  checkRejoin(now: number, out: Output[]): void {
    const d = this.#decision;
    if (this.#role !== 'starting' || d === null || !d.members.includes(this.self)) return;
    // Registered again first, also when the decision still names us master (we released it
    // after a session reset or a conflict): without a key we could not even vote the next
    // decision in, and the decided state, freshly read, admits us.
    this.registerIfAllowed(now, out);
    if (d.masterId === this.self) return;
    this.transition('decided-standby', now, out);
    this.p.log(out, 'info', LOG_JOIN, { masterId: d.masterId, epoch: d.epoch });
  }

  checkPromotion(now: number, out: Output[]): void {
    const d = this.#decision;
    if (d === null || !this.p.promotion.promoting || this.#role === 'master') return;
    if (d.epoch < this.epochFloor) return; // a stale decision: this host already followed a later epoch
    if (!this.windowValid(now)) return;
    if (!this.p.fencing.keyCurrent(d.epoch)) return; // act only under a key of this epoch: a stale fence cannot remove it
    let by = this.p.promotion.opens(now, d, (h) => this.p.detector.peer(h));
    if (by === null && this.config.rules?.promoteWithoutWait === true) by = 'broken rule: no wait'; // tests only
    if (by === null) return;
    this.p.promotion.cancel();
    this.transition('promote-ready', now, out);
    this.p.log(out, 'info', LOG_PRIMARY, { epoch: d.epoch, members: d.members, by });
  }

  checkWindow(now: number, out: Output[]): void {
    if (this.brokenStepDownAtMs !== null && now >= this.brokenStepDownAtMs) {
      this.brokenStepDownAtMs = null;
      if (this.#role === 'master') this.transition('window-expired', now, out);
    }
    if (this.#role !== 'master' && this.#role !== 'standby') return;
    if (this.windowValid(now)) return;
    if (this.#role === 'master' && this.config.rules?.skipSelfFence === true) return;
    this.transition('window-expired', now, out);
  }

  checkCleanedUp(now: number, out: Output[]): void {
    if (this.#role !== 'evicted' || !this.p.resources.allStopped()) return;
    if (this.p.window.canRead(now) && (this.p.window.recent(now) || this.p.fencing.fencedByStorage)) this.transition('cleaned-up', now, out);
  }

  transition(event: RoleEvent, now: number, out: Output[]): void {
    const row = requireTransition(this.#role, event);
    const from = this.#role;
    if (row.to === 'master') {
      const d = this.#decision;
      assert(d?.masterId === this.self && d.members.includes(this.self), () => `becoming master without a decision naming this host (${JSON.stringify(d)})`);
    }
    if (row.to === from) return;
    this.#role = row.to;
    this.roleSinceMs = now;
    if (row.to === 'evicted' || row.to === 'leaving') this.p.promotion.cancel();
    const epoch = this.#decision?.epoch ?? 0;
    out.push({ kind: 'role-change', from, to: row.to, epoch, masterId: this.#decision?.masterId ?? 0, reason: row.reason });
    this.p.log(out, row.to === 'evicted' ? 'warn' : 'info', `role ${from} -> ${row.to}: ${row.reason}`, { event });
    if (from === 'master') this.p.leases.revoke(row.reason, out); // write authority goes now, not when a queued demote runs
  }

  /** A master is the master of the decision it follows, and a member of it. */
  checkInvariants(): void {
    const d = this.#decision;
    if (this.#role !== 'master' || this.config.rules !== undefined) return;
    assert(d !== null && d.masterId === this.self && d.members.includes(this.self), () => `master outside the decision naming it (${JSON.stringify(d)})`);
  }
}
