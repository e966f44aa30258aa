// The cluster engine of one host: a pure, deterministic state machine (docs/engine.md).
// Inputs carry the host's own monotonic time; outputs are carried out by the shell in
// order. No I/O, timers, clock or randomness here; broken internal invariants throw.

import { majorityOf, resolveConfig, type EngineConfig, type EngineConfigInput } from './config.js';
import { DiskPaxosArbiter } from './arbitration.js';
import { masterAbnormality, nextDecision, proposerOrder, type HostSnapshot, type Snapshot } from './decide.js';
import { Detector } from './detection.js';
import { DiskRounds, type Round } from './disk-rounds.js';
import { currentBlocks, learnedDecision, sameDecision } from './paxos.js';
import { cleared, type Promotion } from './promotion.js';
import { Resources } from './resources.js';
import { reconnectWaitMs, type Timeouts } from './timeouts.js';
import { requireTransition, type RoleEvent } from './transitions.js';
import {
  HEARTBEAT_FLAG_PROMOTING,
  type ClusterView,
  type Decision,
  type HeartbeatPayload,
  type HostId,
  type Input,
  type Output,
  type Role,
  type SlotRead,
} from './types.js';
import { buildView } from './view.js';

export const LOG_ABNORMAL = 'abnormal found, trigger a new vote cycle';
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
  private readonly t: Timeouts;
  private readonly self: HostId;
  private readonly rounds: DiskRounds;
  readonly detector: Detector;
  private readonly resources: Resources;
  /** An epoch known decided before this run (config.epochFloor): the fencing token never goes below it. */
  private readonly epochFloor: number;

  role: Role = 'starting';
  private roleSinceMs = 0;
  decision: Decision | null = null;
  private decisionDurableAtMs: number | null = null;
  private retryDurable = false;
  private ownVoteSlotDamaged = false;
  private membershipDirty = false;
  private brokenStepDownAtMs: number | null = null;
  private readonly arbiter: DiskPaxosArbiter;
  private nextProposalAtMs = 0;
  private abnormalSinceMs: number | null = null;
  private abnormalLoggedEpoch = -1;
  private promotion: Promotion | null = null;
  private fencedByStorage = false;
  /** Own clock: when a decision added each host to the member set (admissions, not the first decision). */
  private readonly admittedAtMs = new Map<HostId, number>();
  private unfencedThroughRequestId = 0;

  private started = false;
  private startedAtMs = 0;
  private lastStepMs = 0;
  private freshAfterMs = 0;
  private lastMajorityWriteStartMs: number | null = null;
  private lastMajorityReadStartMs: number | null = null;
  private nextDiskAtMs = 0;
  private nextNetAtMs = 0;
  private hbSeq = 0;
  private voteSeq = 0;
  private netSeq = 0;
  private exited = false;

  constructor(config: EngineConfig) {
    this.config = config;
    this.t = config.timeouts;
    this.self = config.hostId;
    this.epochFloor = config.epochFloor ?? 0;
    this.rounds = new DiskRounds(config.diskCount, majorityOf(config.diskCount), this.t.diskIoDeadlineMs);
    this.detector = new Detector(this.self, this.t.diskHbKeepAliveMs, this.t.networkHbTimeoutMs);
    this.resources = new Resources(config.resources, this.t.networkHbTimeoutMs, this.t.networkHbTimeoutMs);
    this.arbiter = new DiskPaxosArbiter(
      this.self,
      config.incarnation,
      this.rounds,
      config.rules?.skipPhase1Check === true,
      majorityOf(config.diskCount),
      this.t.startupObserveMs,
      this.epochFloor,
    );
  }

  view(): ClusterView {
    return buildView(this, this.resources.states());
  }

  windowEndMs(): number | null {
    const w = this.lastMajorityWriteStartMs;
    const r = this.lastMajorityReadStartMs;
    if (w === null || r === null) return null;
    return Math.min(w, r) + this.t.leaseMs;
  }

  step(input: Input): Output[] {
    const out: Output[] = [];
    const now = input.nowMs;
    if (input.kind === 'start') {
      if (this.started) throw new Error('engine invariant: start given twice');
      this.started = true;
      this.startedAtMs = now;
      this.freshAfterMs = now;
      this.roleSinceMs = now;
      // Incarnation 1 is this host's first run on these disks: none of its databases can
      // be running, so there is nothing to wait for.
      if (this.config.incarnation > 1) this.resources.awaitReconnects(now + reconnectWaitMs(this.t));
      this.log(out, 'info', 'engine started', { incarnation: this.config.incarnation, epochFloor: this.epochFloor, role: this.role });
    } else {
      if (!this.started) throw new Error(`engine invariant: '${input.kind}' before 'start'`);
      if (now < this.lastStepMs) throw new Error(`engine invariant: time went back (${now} < ${this.lastStepMs})`);
      if (now - this.lastStepMs > this.t.pauseBoundMs) this.onPause(now, out);
    }
    this.lastStepMs = now;
    this.checkWindow(now, out); // a host waking from a pause stops first, then looks at the input
    this.handle(input, out);
    this.afterInput(now, out, input.kind !== 'net-heartbeat');
    return out;
  }

  // ---- inputs -------------------------------------------------------------------------

  private handle(input: Input, out: Output[]): void {
    const now = input.nowMs;
    switch (input.kind) {
      case 'start':
      case 'tick':
        return;
      case 'disk-read-done': {
        const read = { heartbeats: input.heartbeats, votes: input.votes };
        const own = input.votes.find((slot) => slot.hostId === this.self);
        if (own !== undefined && own.verdict !== 'ok' && own.verdict !== 'empty') this.ownVoteSlotDamaged = true;
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
        // A conflict for a request issued before we re-registered says nothing new.
        if (input.error === 'reservation-conflict' && input.requestId > this.unfencedThroughRequestId) this.onFenced(now, out);
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
        this.onFenceDone(input.victim, input.ok, input.detail, out);
        return;
      case 'shutdown':
        if (this.role !== 'leaving') this.transition('shutdown', now, out);
        return;
    }
  }

  private onPause(now: number, out: Output[]): void {
    this.log(out, 'warn', 'engine was paused: acting on nothing until the disks are read again', {
      pausedMs: now - this.lastStepMs,
    });
    this.detector.onPause(this.lastStepMs, now);
    this.freshAfterMs = now;
    this.nextDiskAtMs = now; // read at once
  }

  private onFenced(now: number, out: Output[]): void {
    this.fencedByStorage = true;
    if (this.role === 'leaving') return;
    if (this.role === 'evicted') return;
    this.transition('reservation-conflict', now, out);
  }

  private onResourceFailed(now: number, index: number, why: string, out: Output[]): void {
    this.log(out, 'warn', 'resource failed', { resource: this.config.resources[index], why });
    if (this.role === 'master') this.transition('resource-failed', now, out);
  }

  private onFenceDone(victim: HostId, ok: boolean, detail: string | undefined, out: Output[]): void {
    this.log(out, ok ? 'info' : 'warn', ok ? 'fenced host' : 'fencing failed', { victim, detail });
    if (ok && this.promotion !== null) this.promotion.fenced.add(victim);
  }

  // ---- decisions ----------------------------------------------------------------------

  private learn(now: number, blocks: ReturnType<typeof currentBlocks>, out: Output[]): void {
    const learned = learnedDecision(blocks);
    if (learned === null) return;
    const current = this.decision;
    if (current !== null && learned.epoch === current.epoch && !sameDecision(learned, current)) {
      this.log(out, 'error', 'two different decisions for one epoch', { learned, current });
      if (this.config.rules === undefined) {
        throw new Error(`engine invariant: two decisions for epoch ${learned.epoch}`);
      }
    }
    if (current === null || learned.epoch > current.epoch) this.adopt(now, learned, 'read from the voting disk', out);
  }

  private adopt(now: number, d: Decision, how: string, out: Output[]): void {
    const previous = this.decision;
    if (previous !== null && d.epoch <= previous.epoch) throw new Error('engine invariant: epochs only grow');
    this.decision = { ...d, members: [...d.members] };
    this.decisionDurableAtMs = null;
    if (previous !== null) for (const h of d.members) if (!previous.members.includes(h)) this.admittedAtMs.set(h, now);
    this.abnormalSinceMs = null;
    this.promotion = null;
    this.log(out, 'info', 'decision adopted', { epoch: d.epoch, masterId: d.masterId, members: d.members, how });
    // Our block carrying the decision, durable on a majority, starts the promoter's wait.
    this.arbiter.onDecisionKnown(now, this.decision, out);
    if (this.role === 'leaving') return;
    const member = d.members.includes(this.self);
    if (member) this.unfence(d, out);
    // A master that missed an epoch cannot know who was master in it: it steps down and
    // promotes again through the gate, like any standby.
    const continuous = previous !== null && previous.epoch + 1 === d.epoch && previous.masterId === this.self;
    if (this.role === 'master' && !(member && d.masterId === this.self && continuous)) {
      if (this.config.rules?.promoteWithoutWait === true) {
        // broken on purpose (tests only): the old master trusts only its lease
        this.brokenStepDownAtMs ??= now + this.t.leaseMs;
        return;
      }
      this.transition(member ? 'decided-standby' : 'decided-evicted', now, out);
    }
    if (member && d.masterId === this.self) {
      if (this.role === 'master') {
        this.transition('promote-ready', now, out);
        this.fenceEvicted(d, out);
      } else {
        this.promotion = { epoch: d.epoch, fenced: new Set() };
        this.fenceEvicted(d, out);
      }
    } else if (member) {
      const wasStandby = this.role === 'standby';
      this.transition('decided-standby', now, out);
      if (!wasStandby || previous?.masterId !== d.masterId) this.log(out, 'info', LOG_JOIN, { masterId: d.masterId, epoch: d.epoch });
    } else {
      this.transition('decided-evicted', now, out);
    }
  }

  /** Re-registers at the storage once a decision admits us (design: never before). */
  private unfence(d: Decision, out: Output[]): void {
    if (!this.fencedByStorage) return;
    this.fencedByStorage = false;
    this.unfencedThroughRequestId = this.rounds.lastRequestId();
    out.push({ kind: 'unfence', epoch: d.epoch });
  }

  /**
   * A host that stopped on its own (window expired, fenced) while the current decision
   * still lists it as a standby member rejoins directly: the cluster never evicted it.
   */
  private checkRejoin(now: number, out: Output[]): void {
    const d = this.decision;
    if (this.role !== 'starting' || d === null || !d.members.includes(this.self) || d.masterId === this.self) return;
    this.unfence(d, out);
    this.transition('decided-standby', now, out);
    this.log(out, 'info', LOG_JOIN, { masterId: d.masterId, epoch: d.epoch });
  }

  private fenceEvicted(d: Decision, out: Output[]): void {
    if (this.config.fencing !== 'pr') return;
    for (const h of this.config.hostIds) {
      if (!d.members.includes(h)) out.push({ kind: 'fence', victim: h, epoch: d.epoch });
    }
  }

  private checkPromotion(now: number, out: Output[]): void {
    const p = this.promotion;
    const d = this.decision;
    if (p === null || d === null || d.epoch !== p.epoch || this.role === 'master') return;
    if (d.epoch < this.epochFloor) return; // a stale decision: this host already followed a later epoch
    if (!this.windowValid(now)) return;
    const waited = this.decisionDurableAtMs !== null && now - this.decisionDurableAtMs >= this.t.selfFenceWaitMs;
    const allCleared = this.config.hostIds.every((h) => h === this.self || cleared(this.detector.peer(h), h, p, d));
    if (!(waited || allCleared || this.config.rules?.promoteWithoutWait === true)) return;
    this.promotion = null;
    this.transition('promote-ready', now, out);
    this.log(out, 'info', LOG_PRIMARY, { epoch: d.epoch, members: d.members, by: waited ? 'self-fence wait' : 'acknowledged or fenced' });
  }

  // ---- proposing ----------------------------------------------------------------------

  /** This host's view for the decision functions; `only` limits it to a few hosts (cheaper). */
  snapshot(now: number, only?: HostId[]): Snapshot {
    const hosts = new Map<HostId, HostSnapshot>();
    const heard = this.detector.heardSet(now);
    for (const h of only ?? this.config.hostIds) {
      if (h === this.self) {
        hosts.set(h, {
          hostId: h,
          diskLive: this.readWriteRecent(now),
          netJoining: false,
          role: this.role,
          epoch: this.decision?.epoch ?? 0,
          flags: this.flags(),
          heard,
        });
        continue;
      }
      const peer = this.detector.hostSnapshot(h, heard, now);
      if (peer === undefined) continue;
      if (!peer.diskLive && heard.includes(h) && this.recentlyAdmitted(h, now)) peer.diskLive = true;
      hosts.set(h, peer);
    }
    return { selfId: this.self, decision: this.decision, hosts };
  }

  /**
   * A host admitted over the network (fenced at the storage, it could not write) needs
   * time to re-register its key and get a heartbeat write through: for a keep-alive after
   * its admission it stays a candidate while it is heard, instead of being evicted
   * again by the master's next read round (admitted, evicted, admitted ...).
   */
  private recentlyAdmitted(h: HostId, now: number): boolean {
    const at = this.admittedAtMs.get(h);
    return at !== undefined && this.decision?.members.includes(h) === true && now - at < this.t.diskHbKeepAliveMs;
  }

  private considerProposing(now: number, out: Output[]): void {
    if (this.arbiter.busy() || !this.arbiter.ready() || now < this.nextProposalAtMs) return;
    if (this.role === 'evicted' || this.role === 'leaving') return;
    if (!this.readWriteRecent(now)) return;
    // Right after a (re)start this host hears nobody yet: a proposal now would evict the
    // peers it has not heard from, or itself. Nothing is proposed before it has watched
    // the disk and the network for startupObserveMs; a master that restarted resumes
    // its decided epoch meanwhile (promotion gate) without a vote.
    if (now - this.startedAtMs < this.t.startupObserveMs) return;
    if (this.role === 'master') {
      // The member set can only change with what a read round brings: evaluate once per round.
      if (!this.membershipDirty || !this.windowValid(now)) return;
      this.membershipDirty = false;
      const value = nextDecision(this.snapshot(now));
      if (value !== null) this.propose(now, value, 'master updates the member set', out);
      return;
    }
    let reason: string | null;
    if (this.decision === null) {
      reason = 'no decision yet';
    } else if (this.decision.epoch < this.epochFloor) {
      // Paxos carries every later chosen value forward: propose until the floor is reached.
      reason = `decision ${this.decision.epoch} is older than epoch ${this.epochFloor} this host followed before its restart`;
    } else {
      reason = masterAbnormality(this.snapshot(now, [this.self, this.decision.masterId]));
    }
    if (reason === null) {
      this.abnormalSinceMs = null;
      return;
    }
    if (this.abnormalSinceMs === null) this.abnormalSinceMs = now;
    const epoch = this.decision?.epoch ?? 0;
    if (this.decision !== null && this.abnormalLoggedEpoch !== epoch && this.decision.members.includes(this.self)) {
      this.abnormalLoggedEpoch = epoch;
      this.log(out, 'info', LOG_ABNORMAL, { epoch, reason });
    }
    const s = this.snapshot(now);
    if (this.config.rules?.skipPhase1Check === true) {
      // broken on purpose (tests only): everyone proposes itself at once
      const value = nextDecision(s);
      if (value?.members.includes(this.self) === true) this.propose(now, { ...value, masterId: this.self }, reason, out);
      return;
    }
    const rank = proposerOrder(s).indexOf(this.self);
    if (now - this.abnormalSinceMs < rank * this.t.voteBackoffMs) return;
    const value = nextDecision(s);
    if (value !== null) this.propose(now, value, reason, out);
  }

  private propose(now: number, value: Decision, reason: string, out: Output[]): void {
    if (value.epoch !== (this.decision?.epoch ?? 0) + 1) throw new Error('engine invariant: proposal skips an epoch');
    const { ballot } = this.arbiter.propose(now, value, out);
    this.log(out, 'info', 'proposing a decision', { ...value, ballot, reason });
  }

  private onArbiterRound(now: number, round: Round, out: Output[]): void {
    const result = this.arbiter.onRoundResolved(now, round, out);
    if (result === null) return;
    if (result.kind === 'aborted') {
      const rank = Math.max(0, proposerOrder(this.snapshot(now)).indexOf(this.self));
      this.nextProposalAtMs = now + (rank + 1) * this.t.voteBackoffMs;
      this.log(out, 'info', 'vote attempt aborted', { instance: result.instance, ballot: result.ballot, reason: result.reason });
      return;
    }
    this.log(out, 'info', 'decision chosen', { ...result.value, ballot: result.ballot });
    if (this.decision === null || result.value.epoch > this.decision.epoch) this.adopt(now, result.value, 'chosen by our ballot', out);
  }

  // ---- rounds, windows, periodic work ---------------------------------------------------

  private onRoundResolved(now: number, round: Round, out: Output[]): void {
    const ok = round.outcome === 'succeeded';
    if (round.kind === 'read' && ok) {
      this.lastMajorityReadStartMs = Math.max(this.lastMajorityReadStartMs ?? round.issuedAtMs, round.issuedAtMs);
      this.detector.onReadRoundSucceeded(round.issuedAtMs);
      this.membershipDirty = true;
      if (!this.arbiter.ready()) {
        const own = this.arbiter.recover(round, this.decision, now, out);
        if (own !== null) this.log(out, 'info', 'own vote block recovered', { instance: own.instance, mbal: own.mbal });
      }
    }
    if (round.kind === 'write-heartbeat' && ok) {
      this.lastMajorityWriteStartMs = Math.max(this.lastMajorityWriteStartMs ?? round.issuedAtMs, round.issuedAtMs);
    }
    if (round.kind === 'write-vote' && this.decision !== null) {
      if (this.decisionDurableAtMs === null && this.arbiter.madeDurable(round, this.decision.epoch)) this.decisionDurableAtMs = now;
      if (!ok && round.purpose === 'decided') this.retryDurable = true;
    }
    this.onArbiterRound(now, round, out);
  }

  private readWriteRecent(now: number): boolean {
    const end = this.windowEndMs();
    return end !== null && now < end;
  }

  /** Invariant 2: act as master (or stay a member) only inside this window. */
  windowValid(now: number): boolean {
    if (this.readWriteRecent(now)) return true;
    // A host that just became a standby gets one lease to prove its disk access.
    return this.role === 'standby' && now < this.roleSinceMs + this.t.leaseMs;
  }

  /**
   * Own-clock ms left of this host's master window (0 when not master or expired). The
   * daemon bounds the heartbeat-2 lease it grants a primary database by it, so the
   * database stops writing no later than this host stops acting as master.
   */
  windowRemainingMs(now: number): number {
    if (this.role !== 'master') return 0;
    const w = this.lastMajorityWriteStartMs;
    const r = this.lastMajorityReadStartMs;
    if (w === null || r === null) return 0;
    return Math.max(0, Math.min(w, r) + this.t.leaseMs - now);
  }

  private fresh(): boolean {
    return this.lastMajorityReadStartMs !== null && this.lastMajorityReadStartMs >= this.freshAfterMs;
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
      this.considerProposing(now, out);
    }
    this.periodic(now, out);
    this.resources.reconcile(now, this.role, this.decision?.epoch ?? 0, out);
    if (this.role === 'leaving' && !this.exited && this.resources.allStopped()) {
      this.exited = true;
      out.push({ kind: 'exit', reason: 'shutdown requested and every resource stopped' });
    }
  }

  private checkWindow(now: number, out: Output[]): void {
    if (this.brokenStepDownAtMs !== null && now >= this.brokenStepDownAtMs) {
      this.brokenStepDownAtMs = null;
      if (this.role === 'master') this.transition('window-expired', now, out);
    }
    if (this.role !== 'master' && this.role !== 'standby') return;
    if (this.windowValid(now)) return;
    if (this.role === 'master' && this.config.rules?.skipSelfFence === true) return;
    this.transition('window-expired', now, out);
  }

  private checkCleanedUp(now: number, out: Output[]): void {
    if (this.role !== 'evicted' || !this.resources.allStopped()) return;
    const r = this.lastMajorityReadStartMs;
    const canRead = r !== null && now < r + this.t.leaseMs;
    if (canRead && (this.readWriteRecent(now) || this.fencedByStorage)) this.transition('cleaned-up', now, out);
  }

  private periodic(now: number, out: Output[]): void {
    if (this.exited) return;
    if (now >= this.nextDiskAtMs) {
      this.nextDiskAtMs = now + this.t.diskHbIntervalMs;
      const payload = {
        role: this.role,
        ...this.publishedEpoch(),
        heard: this.detector.heardSet(now),
        resources: this.resources.states().map((state) => ({ state })),
        flags: this.flags(),
      };
      const record = { hostId: this.self, incarnation: this.config.incarnation, sequence: ++this.hbSeq, payload };
      this.rounds.issueHeartbeatWrite(now, record, out);
      this.rounds.issueRead(now, 'periodic', out);
      if ((this.retryDurable && this.decisionDurableAtMs === null) || this.ownVoteSlotDamaged) this.arbiter.rewrite(now, out);
      this.retryDurable = false;
      this.ownVoteSlotDamaged = false;
    }
    if (now >= this.nextNetAtMs) {
      this.nextNetAtMs = now + this.t.networkHbIntervalMs;
      out.push({
        kind: 'send-heartbeat',
        message: {
          from: this.self,
          incarnation: this.config.incarnation,
          sequence: ++this.netSeq,
          role: this.role,
          epoch: this.decision?.epoch ?? 0,
          masterId: this.decision?.masterId ?? 0,
          heard: this.detector.heardSet(now),
        },
      });
    }
    for (const round of this.rounds.drainResolved()) this.onRoundResolved(now, round, out);
  }

  /**
   * The epoch (and its master) our disk heartbeats show. Never below the floor: a heartbeat is
   * the durable trace of the epoch this host followed, and the next run's floor; until the
   * real decision is learned the floor is shown with master 0 (unknown), which peers read
   * as "not caught up" (withoutFloorOnly).
   */
  private publishedEpoch(): { epoch: number; masterId: HostId } {
    const d = this.decision;
    if (d === null || d.epoch < this.epochFloor) return { epoch: this.epochFloor, masterId: 0 };
    return { epoch: d.epoch, masterId: d.masterId };
  }

  private flags(): number {
    return this.promotion !== null ? HEARTBEAT_FLAG_PROMOTING : 0;
  }

  private transition(event: RoleEvent, now: number, out: Output[]): void {
    const row = requireTransition(this.role, event);
    const from = this.role;
    if (row.to === 'master' && (this.decision?.masterId !== this.self || !this.decision.members.includes(this.self))) {
      throw new Error(`engine invariant: becoming master without a decision naming this host (${JSON.stringify(this.decision)})`);
    }
    if (row.to === from) return;
    this.role = row.to;
    this.roleSinceMs = now;
    if (row.to === 'evicted' || row.to === 'leaving') this.promotion = null;
    out.push({
      kind: 'role-change',
      from,
      to: row.to,
      epoch: this.decision?.epoch ?? 0,
      masterId: this.decision?.masterId ?? 0,
      reason: row.reason,
    });
    this.log(out, row.to === 'evicted' ? 'warn' : 'info', `role ${from} -> ${row.to}: ${row.reason}`, { event });
  }

  private log(out: Output[], level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    out.push(fields === undefined ? { kind: 'log', level, msg } : { kind: 'log', level, msg, fields });
  }
}

/**
 * A heartbeat showing an epoch with master 0 carries only its host's epoch floor (a
 * restarted host that has not learned the decision yet, publishedEpoch): peers judge it
 * as not caught up (epoch 0), so it neither acknowledges a promotion nor counts as a
 * master that released its role. The arbiter still sees the raw epoch as a trace.
 */
function withoutFloorOnly(slot: SlotRead<HeartbeatPayload>): SlotRead<HeartbeatPayload> {
  const p = slot.record?.payload;
  if (slot.record === undefined || p === undefined || p.masterId !== 0 || p.epoch === 0) return slot;
  return { ...slot, record: { ...slot.record, payload: { ...p, epoch: 0 } } };
}
