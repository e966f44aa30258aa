// The cluster engine of one host: a pure, deterministic state machine (docs/engine.md).
// Inputs carry the host's own monotonic time; outputs are carried out by the shell in
// order. No I/O, timers, clock or randomness here; a broken invariant fails an assertion.
// This file routes each input to the part that owns the state it changes: HostRole (the
// role and the decision followed), MasterWindow (invariant 2), Proposer (when to vote),
// DiskPaxosArbiter (the vote rounds), PromotionGate, StorageFencing (the PR standing),
// LeaseGrants (heartbeat 2), Publisher (heartbeats), Resources (the databases).

import { DiskPaxosArbiter } from './arbitration.js';
import { assert } from './assert.js';
import { majorityOf, resolveConfig, type EngineConfig, type EngineConfigInput } from './config.js';
import type { Snapshot } from './decide.js';
import { Detector } from './detection.js';
import { DiskRounds, type Round } from './disk-rounds.js';
import { LeaseGrants } from './leases.js';
import { currentBlocks } from './paxos.js';
import { HostRole } from './host-role.js';
import { Membership } from './membership.js';
import { PromotionGate } from './promotion.js';
import { Proposer } from './proposer.js';
import { Publisher, flagsOf, type Published, type Shown } from './publish.js';
import { Resources } from './resources.js';
import { takeSnapshot, withoutFloorOnly } from './snapshot.js';
import { preemptable } from './key-epochs.js';
import { StorageFencing } from './storage-fencing.js';
import { reconnectWaitMs, type Timeouts } from './timeouts.js';
import type { ClusterView, Decision, HostId, Input, LogLevel, Output, Role } from './types.js';
import { buildView } from './view.js';
import { MasterWindow } from './window.js';

export { LOG_ABNORMAL } from './proposer.js';
export { LOG_JOIN, LOG_PRIMARY } from './host-role.js';

export interface Engine {
  step(input: Input): Output[];
  view(): ClusterView;
  /** Own-clock end of the window in which this host may act as master or member; null if none. */
  windowEndMs(): number | null;
  /**
   * Asked by the fence shell just before it PREEMPTs `victim` for a `fence` output of
   * `epoch`: false once the engine moved on (a newer decision or term), and the shell then
   * answers fence-done not ok without touching the storage.
   */
  fenceWanted(victim: HostId, epoch: number): boolean;
  /**
   * Asked by the fence shell with the keys it just read, before the PREEMPT of a `fence`
   * output for `fenceEpoch`: whether a victim's key carrying `keyEpoch` (null: a key
   * without an epoch, format v1) may be removed. A key of the fence's epoch or newer
   * means a newer decision admitted the victim: the whole fence is refused.
   */
  mayPreempt(keyEpoch: number | null, fenceEpoch: number): boolean;
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

  private readonly roles: HostRole;
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
    this.resources = new Resources(config.resources, this.t.networkHbTimeoutMs, this.t.resourceRetryMs, config.heartbeat2Required);
    const skipPhase1 = config.rules?.skipPhase1Check === true;
    this.arbiter = new DiskPaxosArbiter(this.self, config.incarnation, this.rounds, skipPhase1, majority, this.t.startupObserveMs, this.epochFloor);
    this.proposer = new Proposer(config, this.arbiter, this.epochFloor, () => this.startedAtMs);
    this.window = new MasterWindow(this.t.leaseMs);
    this.fencing = new StorageFencing(config.fencing, config.fenceDeviceCount, this.t.fenceRetryMs);
    this.leases = new LeaseGrants(config.resources.length, this.t.leaseMs);
    this.publisher = new Publisher(this.self, config.incarnation, this.epochFloor, this.t);
    this.promotion = new PromotionGate(this.self, config.hostIds, this.t.selfFenceWaitMs);
    this.membership = new Membership(this.t.diskHbKeepAliveMs);
    const parts = { window: this.window, fencing: this.fencing, leases: this.leases, promotion: this.promotion, membership: this.membership };
    this.roles = new HostRole(config, this.epochFloor, { ...parts, arbiter: this.arbiter, proposer: this.proposer, detector: this.detector, resources: this.resources, log: this.log });
  }

  get role(): Role {
    return this.roles.role;
  }

  get decision(): Decision | null {
    return this.roles.decision;
  }

  view(): ClusterView {
    return buildView(this, this.resources.shownStates(), this.lastStepMs);
  }

  windowEndMs(): number | null {
    return this.window.end();
  }

  fenceWanted(victim: HostId, epoch: number): boolean {
    if (this.config.rules?.fenceWithoutRead === true) return true; // broken on purpose (tests only)
    const d = this.roles.decision;
    return d !== null && d.epoch === epoch && d.masterId === this.self && !d.members.includes(victim);
  }

  mayPreempt(keyEpoch: number | null, fenceEpoch: number): boolean {
    if (this.config.rules?.preemptAnyKey === true) return true; // broken on purpose (tests only)
    return preemptable(keyEpoch, fenceEpoch);
  }

  step(input: Input): Output[] {
    const out: Output[] = [];
    const now = input.nowMs;
    if (input.kind === 'start') {
      assert(!this.started, 'start given twice');
      this.started = true;
      this.startedAtMs = now;
      this.freshAfterMs = now;
      this.roles.start(now);
      // Incarnation 1 is this host's first run on these disks: none of its databases can
      // be running, so there is nothing to wait for.
      if (this.config.incarnation > 1) this.resources.awaitReconnects(now + reconnectWaitMs(this.t));
      this.log(out, 'info', 'engine started', { incarnation: this.config.incarnation, epochFloor: this.epochFloor, role: this.roles.role });
    } else {
      assert(this.started, () => `'${input.kind}' before 'start'`);
      assert(now >= this.lastStepMs, () => `time went back (${now} < ${this.lastStepMs})`);
      if (now - this.lastStepMs > this.t.pauseBoundMs) this.onPause(now, out);
    }
    this.lastStepMs = now;
    this.roles.checkWindow(now, out); // a host waking from a pause stops first, then looks at the input
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
        this.roles.learn(now, currentBlocks([read]), out);
        this.rounds.answer(input.requestId, true, out, read);
        return;
      }
      case 'disk-write-done':
        this.rounds.answer(input.requestId, true, out);
        return;
      case 'disk-failed':
        this.rounds.answer(input.requestId, false, out);
        if (input.error === 'reservation-conflict' && this.fencing.onConflict(now, input.disk, input.requestId, this.roles.decision?.epoch ?? 0)) this.roles.onFenced(now, out);
        return;
      case 'net-heartbeat':
        this.detector.onNetHeartbeat(now, input.message);
        if (input.message.epoch > (this.roles.decision?.epoch ?? 0)) this.publisher.hurrySoon(now); // a newer decision to read
        return;
      case 'resource-event': {
        const failed = this.resources.onEvent(now, input.resource, input.event);
        if (failed !== null) this.roles.onResourceFailed(now, failed, input.event, out);
        return;
      }
      case 'resource-action-done':
        this.resources.onActionDone(now, input.resource, input.action, input.ok);
        if (!input.ok) this.log(out, 'warn', 'resource action failed', { resource: input.resource, action: input.action });
        return;
      case 'fence-done':
        this.log(out, input.ok ? 'info' : 'warn', input.ok ? 'fenced host' : 'fencing failed', { victim: input.victim, detail: input.detail });
        if (input.ok) this.promotion.onFenced(input.victim);
        this.fencing.onFenceDone(now, input.victim);
        return;
      case 'fence-step-done':
        if (this.fencing.onStepDone(now, input, this.rounds.lastRequestId(), this.roles.decision?.epoch ?? 0)) this.roles.onFenced(now, out);
        if (!input.ok) this.log(out, 'warn', `fencing step ${input.step} failed`, { device: input.device, detail: input.detail });
        return;
      case 'shutdown':
        if (this.roles.role !== 'leaving') this.roles.transition('shutdown', now, out);
        return;
    }
  }

  private onPause(now: number, out: Output[]): void {
    this.log(out, 'warn', 'engine was paused: acting on nothing until the disks are read again', { pausedMs: now - this.lastStepMs });
    this.detector.onPause(this.lastStepMs, now);
    this.freshAfterMs = now;
    this.publisher.hurry(now); // read at once
  }

  // ---- rounds, windows, periodic work ---------------------------------------------------

  snapshot(now: number, only?: HostId[]): Snapshot {
    return takeSnapshot(this.snapshotSource(now), now, only);
  }

  private snapshotSource(now: number): Parameters<typeof takeSnapshot>[0] {
    const { self, detector } = this;
    const decision = this.roles.decision;
    const recentlyAdmitted = (h: HostId): boolean => this.membership.recentlyAdmitted(h, now, decision);
    const flags = flagsOf(this.promotion.promoting);
    return { self, hostIds: this.config.hostIds, detector, decision, role: this.roles.role, flags, diskLive: this.window.recent(now), recentlyAdmitted };
  }

  private onRoundResolved(now: number, round: Round, out: Output[]): void {
    const ok = round.outcome === 'succeeded';
    if (round.kind === 'read' && ok) {
      this.window.onMajorityRead(round.issuedAtMs);
      this.detector.onReadRoundSucceeded(round.issuedAtMs);
      this.proposer.onReadRound();
      if (!this.arbiter.ready()) {
        const own = this.arbiter.recover(round, this.roles.decision, now, out);
        if (own !== null) this.log(out, 'info', 'own vote block recovered', { instance: own.instance, mbal: own.mbal });
      }
    }
    if (round.kind === 'write-heartbeat' && ok) this.window.onMajorityWrite(round.issuedAtMs);
    if (round.kind === 'write-vote' && this.roles.decision !== null && this.arbiter.onVoteRound(round, this.roles.decision.epoch)) this.promotion.onDurable(now);
    const chosen = this.proposer.onRound(now, round, this, out);
    if (chosen !== null && (this.roles.decision === null || chosen.epoch > this.roles.decision.epoch)) this.roles.adopt(now, chosen, 'chosen by our ballot', out);
  }

  diskRecent(now: number): boolean {
    return this.window.recent(now);
  }

  fencesSettled(): boolean {
    return this.fencing.settled;
  }

  windowValid(now: number): boolean {
    return this.roles.windowValid(now);
  }

  private fresh(): boolean {
    return this.window.readSince(this.freshAfterMs);
  }

  /** `decide`: whether to look at promotions and proposals (not on every network heartbeat: they only matter on timeouts). */
  private afterInput(now: number, out: Output[], decide: boolean): void {
    this.rounds.expire(now);
    for (const round of this.rounds.drainResolved()) this.onRoundResolved(now, round, out);
    this.roles.checkWindow(now, out);
    for (const index of this.resources.checkHeartbeats(now)) this.roles.onResourceFailed(now, index, 'heartbeat 2 silent', out);
    if (decide && this.fresh() && this.arbiter.ready()) {
      this.roles.checkPromotion(now, out);
      this.roles.checkCleanedUp(now, out);
      this.roles.checkRejoin(now, out);
      this.proposer.consider(now, this, out);
    }
    if (this.roles.role === 'standby' || this.roles.role === 'master' || this.promotion.promoting) this.roles.registerIfAllowed(now, out);
    const fenceNow = this.config.rules?.fenceWithoutRead === true; // broken on purpose (tests only)
    this.fencing.issueFences(this.roles.decision, this.self, (ms) => this.window.readSince(ms), out, fenceNow);
    if (this.fencing.takeReadRequest()) this.publisher.hurry(now); // the fences' read now, not at the next interval
    this.periodic(now, out);
    this.resources.reconcile(now, this.roles.role, this.roles.decision?.epoch ?? 0, out);
    this.grantLeases(now, out);
    if (this.roles.role === 'leaving' && !this.exited && this.resources.allStopped()) {
      this.exited = true;
      out.push({ kind: 'exit', reason: 'shutdown requested and every resource stopped' });
    }
  }

  /** Heartbeat-2 grants: a master's end with its window; elsewhere they only say ycs is alive. */
  private grantLeases(now: number, out: Output[]): void {
    if (this.exited) return;
    const end = this.window.end();
    if (this.roles.role !== 'master' || end === null) return this.leases.grantAlive(now, out);
    // broken on purpose (tests only): a master that never self-fences keeps granting
    const until = this.config.rules?.skipSelfFence === true ? Math.max(end, now + this.t.leaseMs) : end;
    this.leases.grantPrimary(now, until, out);
  }

  private periodic(now: number, out: Output[]): void {
    if (this.exited) return;
    const shown = this.shown();
    if (this.promotion.promoting) this.publisher.hurrySoon(now); // the others' acknowledgements, as soon as they are written
    if (this.publisher.diskDue(now, shown)) {
      this.rounds.issueHeartbeatWrite(now, this.publisher.heartbeatRecord(this.published(now, shown)), out);
      this.rounds.issueRead(now, 'periodic', out);
      this.arbiter.repair(now, this.promotion.durable, out);
    }
    if (this.publisher.netDue(now, shown)) out.push({ kind: 'send-heartbeat', message: this.publisher.netMessage(now, this.published(now, shown)) });
    for (const round of this.rounds.drainResolved()) this.onRoundResolved(now, round, out);
  }

  private shown(): Shown {
    return { role: this.roles.role, decision: this.roles.decision, resources: this.resources.states(), awaitingHb2: this.resources.awaitingHb2(), promoting: this.promotion.promoting };
  }

  private published(now: number, shown: Shown): Published {
    return { ...shown, heard: this.detector.heardSet(now) };
  }

  /** Checked after every step: a violation stops the engine (assert). */
  private checkInvariants(): void {
    this.roles.checkInvariants();
    assert(!this.exited || this.roles.role === 'leaving', () => `exited in role ${this.roles.role}`);
  }

  readonly log = (out: Output[], level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    out.push(fields === undefined ? { kind: 'log', level, msg } : { kind: 'log', level, msg, fields });
  };
}
