// When this host proposes a new decision (docs/engine.md, "Proposing"): a master updates
// the member set once per read round; any other host proposes when the master looks
// abnormal, after a backoff by its rank in the proposer order, never before it watched
// the disks and the network for startupObserveMs. The Disk Paxos rounds are the arbiter's.

import { assert } from './assert.js';
import type { DiskPaxosArbiter } from './arbitration.js';
import type { EngineConfig } from './config.js';
import { masterAbnormality, nextDecision, proposerOrder, type Snapshot } from './decide.js';
import type { Round } from './disk-rounds.js';
import type { Timeouts } from './timeouts.js';
import type { Decision, HostId, LogLevel, Output, Role } from './types.js';

export const LOG_ABNORMAL = 'abnormal found, trigger a new vote cycle';
/** The log lines of a vote round of this host: started, chosen, aborted (the metrics count them). */
export const LOG_PROPOSING = 'proposing a decision';
export const LOG_CHOSEN = 'decision chosen';
export const LOG_ABORTED = 'vote attempt aborted';

/** What the proposer reads of the engine. */
export interface ProposerContext {
  readonly role: Role;
  readonly decision: Decision | null;
  snapshot(nowMs: number, only?: HostId[]): Snapshot;
  /** Both a majority write and read started within the lease. */
  diskRecent(nowMs: number): boolean;
  /** The master window (invariant 2) holds. */
  windowValid(nowMs: number): boolean;
  /** No fence of this host's is pending or in flight (StorageFencing.settled). */
  fencesSettled(): boolean;
  log(out: Output[], level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export class Proposer {
  private nextProposalAtMs = 0;
  private abnormalSinceMs: number | null = null;
  private abnormalLoggedEpoch = -1;
  private membershipDirty = false;
  private readonly self: HostId;
  private readonly t: Timeouts;

  constructor(
    private readonly config: EngineConfig,
    private readonly arbiter: DiskPaxosArbiter,
    private readonly epochFloor: number,
    private readonly startedAtMs: () => number,
  ) {
    this.self = config.hostId;
    this.t = config.timeouts;
  }

  /** A read round brought news: the master evaluates the member set again. */
  onReadRound(): void {
    this.membershipDirty = true;
  }

  /** A decision was adopted: whatever looked abnormal is judged afresh. */
  onAdopt(): void {
    this.abnormalSinceMs = null;
  }

  consider(now: number, e: ProposerContext, out: Output[]): void {
    if (this.arbiter.busy() || !this.arbiter.ready() || now < this.nextProposalAtMs) return;
    if (e.role === 'evicted' || e.role === 'leaving') return;
    if (!e.diskRecent(now)) return;
    // Right after a (re)start this host hears nobody yet: a proposal now would evict the
    // peers it has not heard from, or itself. A master that restarted resumes its decided
    // epoch meanwhile (promotion gate) without a vote.
    if (now - this.startedAtMs() < this.t.startupObserveMs) return;
    if (e.role === 'master') {
      // The member set can only change with what a read round brings: once per round.
      // Not while a fence is pending or in flight: admitting its victim in a new epoch would
      // let our own PREEMPT, already sent, remove a member of that epoch (seed 16007).
      if (!this.membershipDirty || !e.windowValid(now) || !e.fencesSettled()) return;
      this.membershipDirty = false;
      const value = nextDecision(e.snapshot(now));
      if (value !== null) this.propose(now, e, value, 'master updates the member set', out);
      return;
    }
    const reason = this.abnormality(now, e);
    if (reason === null) {
      this.abnormalSinceMs = null;
      return;
    }
    this.abnormalSinceMs ??= now;
    const d = e.decision;
    const epoch = d?.epoch ?? 0;
    if (d !== null && this.abnormalLoggedEpoch !== epoch && d.members.includes(this.self)) {
      this.abnormalLoggedEpoch = epoch;
      e.log(out, 'info', LOG_ABNORMAL, { epoch, reason });
    }
    const s = e.snapshot(now);
    if (this.config.rules?.skipPhase1Check === true) {
      // broken on purpose (tests only): everyone proposes itself at once
      const value = nextDecision(s);
      if (value?.members.includes(this.self) === true) this.propose(now, e, { ...value, masterId: this.self }, reason, out);
      return;
    }
    const rank = proposerOrder(s).indexOf(this.self);
    if (now - this.abnormalSinceMs < rank * this.t.voteBackoffMs) return;
    const value = nextDecision(s);
    if (value !== null) this.propose(now, e, value, reason, out);
  }

  /** Why a non-master should propose now, or null. */
  private abnormality(now: number, e: ProposerContext): string | null {
    const d = e.decision;
    if (d === null) return 'no decision yet';
    // Paxos carries every later chosen value forward: propose until the floor is reached.
    if (d.epoch < this.epochFloor) return `decision ${d.epoch} is older than epoch ${this.epochFloor} this host followed before its restart`;
    return masterAbnormality(e.snapshot(now, [this.self, d.masterId]));
  }

  private propose(now: number, e: ProposerContext, value: Decision, reason: string, out: Output[]): void {
    assert(value.epoch === (e.decision?.epoch ?? 0) + 1, () => `proposal for epoch ${value.epoch} skips from ${e.decision?.epoch ?? 0}`);
    assert(value.members.includes(value.masterId), () => `proposed master ${value.masterId} is not a member`);
    const { ballot } = this.arbiter.propose(now, value, out);
    e.log(out, 'info', LOG_PROPOSING, { ...value, ballot, reason });
  }

  /** A round of ours resolved: returns the value our ballot chose, if it did. */
  onRound(now: number, round: Round, e: ProposerContext, out: Output[]): Decision | null {
    const result = this.arbiter.onRoundResolved(now, round, out);
    if (result === null) return null;
    if (result.kind === 'aborted') {
      const rank = Math.max(0, proposerOrder(e.snapshot(now)).indexOf(this.self));
      this.nextProposalAtMs = now + (rank + 1) * this.t.voteBackoffMs;
      e.log(out, 'info', LOG_ABORTED, { instance: result.instance, ballot: result.ballot, reason: result.reason });
      return null;
    }
    e.log(out, 'info', LOG_CHOSEN, { ...result.value, ballot: result.ballot });
    return result.value;
  }
}
