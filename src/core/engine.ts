// The cluster engine of one host: a pure, deterministic state machine (docs/engine.md).
// Inputs carry the host's own monotonic time; outputs are carried out by the shell in
// order. No I/O, timers, clock or randomness here; a broken invariant fails an assertion.
// The parts own their state: MasterWindow (invariant 2), Proposer (when to vote),
// DiskPaxosArbiter (the vote rounds), StorageFencing (the PR standing), LeaseGrants
// (heartbeat 2), Publisher (heartbeats), Resources (the databases).

import { DiskPaxosArbiter } from './arbitration.js';
import { assert } from './assert.js';
import { majorityOf, resolveConfig, type EngineConfig, type EngineConfigInput } from './config.js';
import { Detector } from './detection.js';
import { DiskRounds, type Round } from './disk-rounds.js';
import { LeaseGrants } from './leases.js';
import { currentBlocks, learnedDecision, sameDecision } from './paxos.js';
import { Membership } from './membership.js';
import { PromotionGate } from './promotion.js';
import { Proposer } from './proposer.js';
import { Publisher, flagsOf, type Published } from './publish.js';
import { Resources } from './resources.js';
import { takeSnapshot, withoutFloorOnly } from './snapshot.js';
import { StorageFencing } from './storage-fencing.js';
import { reconnectWaitMs, type Timeouts } from './timeouts.js';
import { requireTransition, type RoleEvent } from './transitions.js';
import type { ClusterView, Decision, HostId, Input, LogLevel, Output, Role } from './types.js';
import { buildView } from './view.js';
import { MasterWindow } from './window.js';
import type { Snapshot } from './decide.js';

export { LOG_ABNORMAL } from './proposer.js';
export const LOG_PRIMARY = 'ycs run as primary successfully';
export const LOG_JOIN = 'try join primary';

export interface Engine {
  step(input: Input): Output[];
  view(): ClusterView;
  /** Own-clock end of the window in which this host may act as master or member; null if none. */
  windowEndMs(): number | null;
}

export function createEngine(input: EngineConfigInput): Engine {
  return new ClusterEngine(resolveConfig(input));
}

export class ClusterEngine implements Engine {
  readonly config: EngineConfig;
  readonly detector: Detector;
  private readonly t: Timeouts;
  private readonly self: HostId;
  /** An epoch known decided before this run (config.epochFloor): the fencing token never goes below it. */
  private readonly epochFloor: number;
  private readonly rounds: DiskRounds;
  private readonly arbiter: DiskPaxosArbiter;
  private readonly proposer: Proposer;
  private readonly window: MasterWindow;
  private readonly fencing: StorageFencing;
  private readonly leases: LeaseGrants;
  private readonly publisher: Publisher;
  private readonly resources: Resources;

  #role: Role = 'starting';
  #decision: Decision | null = null;
  private roleSinceMs = 0;
  private brokenStepDownAtMs: number | null = null;
  private readonly promotion: PromotionGate;
  private readonly membership: Membership;
  private started = false;
  private startedAtMs = 0;
  private lastStepMs = 0;
  private freshAfterMs = 0;
  private exited = false;

  constructor(config: EngineConfig) {
    this.config = config;
    this.t = config.timeouts;
    this.self = config.hostId;
    this.epochFloor = config.epochFloor ?? 0;
    const majority = majorityOf(config.diskCount);
    this.rounds = new DiskRounds(config.diskCount, majority, this.t.diskIoDeadlineMs);
    this.detector = new Detector(this.self, this.t.diskHbKeepAliveMs, this.t.networkHbTimeoutMs);
    this.resources = new Resources(config.resources, this.t.networkHbTimeoutMs, this.t.networkHbTimeoutMs);
    const skipPhase1 = config.rules?.skipPhase1Check === true;
    this.arbiter = new DiskPaxosArbiter(this.self, config.incarnation, this.rounds, skipPhase1, majority, this.t.startupObserveMs, this.epochFloor);
    this.proposer = new Proposer(config, this.arbiter, this.epochFloor, () => this.startedAtMs);
    this.window = new MasterWindow(this.t.leaseMs);
    this.fencing = new StorageFencing(config.fencing, config.fenceDeviceCount, this.t.networkHbTimeoutMs);
    this.leases = new LeaseGrants(config.resources.length, this.t.leaseMs);
    this.publisher = new Publisher(this.self, config.incarnation, this.epochFloor, this.t);
    this.promotion = new PromotionGate(this.self, config.hostIds, this.t.selfFenceWaitMs);
    this.membership = new Membership(this.t.diskHbKeepAliveMs);
  }

  get role(): Role {
    return this.#role;
  }

  get decision(): Decision | null {
    return this.#decision;
  }

  view(): ClusterView {
    return buildView(this, this.resources.states());
  }

  windowEndMs(): number | null {
    return this.window.end();
  }

  step(input: Input): Output[] {
    const out: Output[] = [];
    const now = input.nowMs;
    if (input.kind === 'start') {
      assert(!this.started, 'start given twice');
      this.started = true;
      this.startedAtMs = now;
      this.freshAfterMs = now;
      this.roleSinceMs = now;
      // Incarnation 1 is this host's first run on these disks: none of its databases can
      // be running, so there is nothing to wait for.
      if (this.config.incarnation > 1) this.resources.awaitReconnects(now + reconnectWaitMs(this.t));
      this.log(out, 'info', 'engine started', { incarnation: this.config.incarnation, epochFloor: this.epochFloor, role: this.#role });
    } else {
      assert(this.started, () => `'${input.kind}' before 'start'`);
      assert(now >= this.lastStepMs, () => `time went back (${now} < ${this.lastStepMs})`);
      if (now - this.lastStepMs > this.t.pauseBoundMs) this.onPause(now, out);
    }
    this.lastStepMs = now;
    this.checkWindow(now, out); // a host waking from a pause stops first, then looks at the input
    this.handle(input, out);
    this.afterInput(now, out, input.kind !== 'net-heartbeat');
    this.checkInvariants();
    return out;
  }

  private handle(input: Input, out: Output[]): void {
    const now = input.nowMs;
    switch (input.kind) {
      case 'start':
      case 'tick':
        return;
      case 'disk-read-done': {
        const read = { heartbeats: input.heartbeats, votes: input.votes };
        const own = input.votes.find((slot) => slot.hostId === this.self);
        if (own !== undefined && own.verdict !== 'ok' && own.verdict !== 'empty') this.arbiter.noteOwnSlotDamaged();
        this.detector.onHeartbeatSlots(now, input.heartbeats.map(withoutFloorOnly));
        this.learn(now, currentBlocks([read]), out);
        this.rounds.answer(input.requestId, true, out, read);
        return;
      }
      case 'disk-write-done':
        this.rounds.answer(input.requestId, true, out);
        return;
      case 'disk-failed':
        this.rounds.answer(input.requestId, false, out);
        if (input.error === 'reservation-conflict' && this.fencing.onConflict(now, input.disk, input.requestId, this.#decision?.epoch ?? 0)) this.onFenced(now, out);
        return;
      case 'net-heartbeat':
        this.detector.onNetHeartbeat(now, input.message);
        return;
      case 'resource-event': {
        const failed = this.resources.onEvent(now, input.resource, input.event);
        if (failed !== null) this.onResourceFailed(now, failed, input.event, out);
        return;
      }
      case 'resource-action-done':
        this.resources.onActionDone(now, input.resource, input.action, input.ok);
        if (!input.ok) this.log(out, 'warn', 'resource action failed', { resource: input.resource, action: input.action });
        return;
      case 'fence-done':
        this.log(out, input.ok ? 'info' : 'warn', input.ok ? 'fenced host' : 'fencing failed', { victim: input.victim, detail: input.detail });
        if (input.ok) this.promotion.onFenced(input.victim);
        return;
      case 'fence-step-done':
        this.fencing.onStepDone(now, input, this.rounds.lastRequestId());
        if (!input.ok) this.log(out, 'warn', `fencing step ${input.step} failed`, { device: input.device, detail: input.detail });
        return;
      case 'shutdown':
        if (this.#role !== 'leaving') this.transition('shutdown', now, out);
        return;
    }
  }

  private onPause(now: number, out: Output[]): void {
    this.log(out, 'warn', 'engine was paused: acting on nothing until the disks are read again', { pausedMs: now - this.lastStepMs });
    this.detector.onPause(this.lastStepMs, now);
    this.freshAfterMs = now;
    this.publisher.hurry(now); // read at once
  }

  /** Our I/O met a RESERVATION CONFLICT: we were fenced. */
  private onFenced(now: number, out: Output[]): void {
    if (this.#role === 'leaving' || this.#role === 'evicted') return;
    this.transition('reservation-conflict', now, out);
  }

  private onResourceFailed(now: number, index: number, why: string, out: Output[]): void {
    this.log(out, 'warn', 'resource failed', { resource: this.config.resources[index], why });
    if (this.#role === 'master') this.transition('resource-failed', now, out);
  }

  // ---- decisions ----------------------------------------------------------------------

  private learn(now: number, blocks: ReturnType<typeof currentBlocks>, out: Output[]): void {
    const learned = learnedDecision(blocks);
    if (learned === null) return;
    const current = this.#decision;
    if (current !== null && learned.epoch === current.epoch && !sameDecision(learned, current)) {
      this.log(out, 'error', 'two different decisions for one epoch', { learned, current });
      assert(this.config.rules !== undefined, () => `two decisions for epoch ${learned.epoch}`);
    }
    if (current === null || learned.epoch > current.epoch) this.adopt(now, learned, 'read from the voting disk', out);
  }

  private adopt(now: number, d: Decision, how: string, out: Output[]): void {
    const previous = this.#decision;
    assert(previous === null || d.epoch > previous.epoch, () => `epoch ${d.epoch} adopted after ${previous?.epoch}`);
    assert(d.members.includes(d.masterId), () => `decision ${d.epoch} names master ${d.masterId} outside its members`);
    this.#decision = { ...d, members: [...d.members] };
    const member = d.members.includes(this.self);
    this.promotion.onDecision(); // durability is measured afresh; a pending promotion is void
    this.proposer.onAdopt();
    this.log(out, 'info', 'decision adopted', { epoch: d.epoch, masterId: d.masterId, members: d.members, how });
    this.membership.onAdopt(now, previous, d, out);
    // Our block carrying the decision, durable on a majority, starts the promoter's wait.
    this.arbiter.onDecisionKnown(now, this.#decision, out);
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
      if (this.#role !== 'master') this.promotion.begin(d.epoch);
      // A preempt without a reservation on the device fences nobody: reserve first.
      if (this.config.fencing === 'pr') this.fencing.reserve(d.epoch, out);
      this.fencing.fenceOutside(d, this.config.hostIds, out);
      if (this.#role === 'master') this.transition('promote-ready', now, out);
    } else if (member) {
      const wasStandby = this.#role === 'standby';
      this.transition('decided-standby', now, out);
      if (!wasStandby || previous?.masterId !== d.masterId) this.log(out, 'info', LOG_JOIN, { masterId: d.masterId, epoch: d.epoch });
    } else {
      this.transition('decided-evicted', now, out);
    }
  }

  /** Registers at the storage while a decision admits us (design: never before). */
  private registerIfAllowed(now: number, out: Output[]): void {
    const d = this.#decision;
    if (d === null || !d.members.includes(this.self)) return;
    if (!this.fencing.mayRegister(d.epoch, (ms) => this.window.readSince(ms))) return;
    this.fencing.register(now, d.epoch, out);
  }

  /**
   * A host that stopped on its own (window expired, fenced) while the current decision
   * still lists it as a standby member rejoins directly: the cluster never evicted it.
   */
  private checkRejoin(now: number, out: Output[]): void {
    const d = this.#decision;
    if (this.#role !== 'starting' || d === null || !d.members.includes(this.self) || d.masterId === this.self) return;
    this.registerIfAllowed(now, out);
    this.transition('decided-standby', now, out);
    this.log(out, 'info', LOG_JOIN, { masterId: d.masterId, epoch: d.epoch });
  }

  private checkPromotion(now: number, out: Output[]): void {
    const d = this.#decision;
    if (d === null || !this.promotion.promoting || this.#role === 'master') return;
    if (d.epoch < this.epochFloor) return; // a stale decision: this host already followed a later epoch
    if (!this.windowValid(now)) return;
    let by = this.promotion.opens(now, d, (h) => this.detector.peer(h));
    if (by === null && this.config.rules?.promoteWithoutWait === true) by = 'broken rule: no wait'; // tests only
    if (by === null) return;
    this.promotion.cancel();
    this.transition('promote-ready', now, out);
    this.log(out, 'info', LOG_PRIMARY, { epoch: d.epoch, members: d.members, by });
  }

  // ---- rounds, windows, periodic work ---------------------------------------------------

  snapshot(now: number, only?: HostId[]): Snapshot {
    return takeSnapshot(this.snapshotSource(now), now, only);
  }

  private snapshotSource(now: number): Parameters<typeof takeSnapshot>[0] {
    const { self, detector } = this;
    const decision = this.#decision;
    const recentlyAdmitted = (h: HostId): boolean => this.membership.recentlyAdmitted(h, now, decision);
    const flags = flagsOf(this.promotion.promoting);
    return { self, hostIds: this.config.hostIds, detector, decision, role: this.#role, flags, diskLive: this.window.recent(now), recentlyAdmitted };
  }

  private onRoundResolved(now: number, round: Round, out: Output[]): void {
    const ok = round.outcome === 'succeeded';
    if (round.kind === 'read' && ok) {
      this.window.onMajorityRead(round.issuedAtMs);
      this.detector.onReadRoundSucceeded(round.issuedAtMs);
      this.proposer.onReadRound();
      if (!this.arbiter.ready()) {
        const own = this.arbiter.recover(round, this.#decision, now, out);
        if (own !== null) this.log(out, 'info', 'own vote block recovered', { instance: own.instance, mbal: own.mbal });
      }
    }
    if (round.kind === 'write-heartbeat' && ok) this.window.onMajorityWrite(round.issuedAtMs);
    if (round.kind === 'write-vote' && this.#decision !== null && this.arbiter.onVoteRound(round, this.#decision.epoch)) this.promotion.onDurable(now);
    const chosen = this.proposer.onRound(now, round, this, out);
    if (chosen !== null && (this.#decision === null || chosen.epoch > this.#decision.epoch)) this.adopt(now, chosen, 'chosen by our ballot', out);
  }

  diskRecent(now: number): boolean {
    return this.window.recent(now);
  }

  /** Invariant 2: act as master (or stay a member) only inside this window. */
  windowValid(now: number): boolean {
    return this.window.valid(now, this.#role, this.roleSinceMs);
  }

  private fresh(): boolean {
    return this.window.readSince(this.freshAfterMs);
  }

  /** `decide`: whether to look at promotions and proposals (not on every network heartbeat: they only matter on timeouts). */
  private afterInput(now: number, out: Output[], decide: boolean): void {
    this.rounds.expire(now);
    for (const round of this.rounds.drainResolved()) this.onRoundResolved(now, round, out);
    this.checkWindow(now, out);
    for (const index of this.resources.checkHeartbeats(now)) this.onResourceFailed(now, index, 'heartbeat 2 silent', out);
    if (decide && this.fresh() && this.arbiter.ready()) {
      this.checkPromotion(now, out);
      this.checkCleanedUp(now, out);
      this.checkRejoin(now, out);
      this.proposer.consider(now, this, out);
    }
    if (this.#role === 'standby' || this.#role === 'master' || this.promotion.promoting) this.registerIfAllowed(now, out);
    this.periodic(now, out);
    this.resources.reconcile(now, this.#role, this.#decision?.epoch ?? 0, out);
    this.grantLeases(now, out);
    if (this.#role === 'leaving' && !this.exited && this.resources.allStopped()) {
      this.exited = true;
      out.push({ kind: 'exit', reason: 'shutdown requested and every resource stopped' });
    }
  }

  /** Heartbeat-2 grants: a master's end with its window; elsewhere they only say ycs is alive. */
  private grantLeases(now: number, out: Output[]): void {
    if (this.exited) return;
    const end = this.window.end();
    if (this.#role !== 'master' || end === null) return this.leases.grantAlive(now, out);
    // broken on purpose (tests only): a master that never self-fences keeps granting
    const until = this.config.rules?.skipSelfFence === true ? Math.max(end, now + this.t.leaseMs) : end;
    this.leases.grantPrimary(now, until, out);
  }

  private checkWindow(now: number, out: Output[]): void {
    if (this.brokenStepDownAtMs !== null && now >= this.brokenStepDownAtMs) {
      this.brokenStepDownAtMs = null;
      if (this.#role === 'master') this.transition('window-expired', now, out);
    }
    if (this.#role !== 'master' && this.#role !== 'standby') return;
    if (this.windowValid(now)) return;
    if (this.#role === 'master' && this.config.rules?.skipSelfFence === true) return;
    this.transition('window-expired', now, out);
  }

  private checkCleanedUp(now: number, out: Output[]): void {
    if (this.#role !== 'evicted' || !this.resources.allStopped()) return;
    if (this.window.canRead(now) && (this.window.recent(now) || this.fencing.fencedByStorage)) this.transition('cleaned-up', now, out);
  }

  private periodic(now: number, out: Output[]): void {
    if (this.exited) return;
    if (this.publisher.diskDue(now)) {
      this.rounds.issueHeartbeatWrite(now, this.publisher.heartbeatRecord(this.published(now)), out);
      this.rounds.issueRead(now, 'periodic', out);
      this.arbiter.repair(now, this.promotion.durable, out);
    }
    const message = this.publisher.netMessage(now, this.published(now));
    if (message !== null) out.push({ kind: 'send-heartbeat', message });
    for (const round of this.rounds.drainResolved()) this.onRoundResolved(now, round, out);
  }

  private published(now: number): Published {
    const heard = this.detector.heardSet(now);
    return { role: this.#role, decision: this.#decision, heard, resources: this.resources.states(), promoting: this.promotion.promoting };
  }

  private transition(event: RoleEvent, now: number, out: Output[]): void {
    const row = requireTransition(this.#role, event);
    const from = this.#role;
    if (row.to === 'master') {
      const d = this.#decision;
      assert(d?.masterId === this.self && d.members.includes(this.self), () => `becoming master without a decision naming this host (${JSON.stringify(d)})`);
    }
    if (row.to === from) return;
    this.#role = row.to;
    this.roleSinceMs = now;
    if (row.to === 'evicted' || row.to === 'leaving') this.promotion.cancel();
    const epoch = this.#decision?.epoch ?? 0;
    out.push({ kind: 'role-change', from, to: row.to, epoch, masterId: this.#decision?.masterId ?? 0, reason: row.reason });
    this.log(out, row.to === 'evicted' ? 'warn' : 'info', `role ${from} -> ${row.to}: ${row.reason}`, { event });
    if (from === 'master') this.leases.revoke(row.reason, out); // write authority goes now, not when a queued demote runs
  }

  /** Checked after every step: a violation stops the engine (assert). */
  private checkInvariants(): void {
    const d = this.#decision;
    if (this.#role === 'master' && this.config.rules === undefined) {
      assert(d !== null && d.masterId === this.self && d.members.includes(this.self), () => `master outside the decision naming it (${JSON.stringify(d)})`);
    }
    assert(!this.exited || this.#role === 'leaving', () => `exited in role ${this.#role}`);
  }

  log(out: Output[], level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    out.push(fields === undefined ? { kind: 'log', level, msg } : { kind: 'log', level, msg, fields });
  }
}
