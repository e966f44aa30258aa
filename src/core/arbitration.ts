// The arbitration interface and its Disk Paxos implementation. The engine decides *what*
// to propose and *when* (decide.ts); an Arbiter makes sure at most one value is chosen per
// epoch however many hosts propose at once. A lease backend on etcd (the seed's "HA
// master cluster using Raft") would implement the same interface with a compare-and-swap
// on a key per epoch; its I/O would replace the vote-sector rounds.

import { assert } from './assert.js';
import type { DiskReadResult, DiskRounds, Round } from './disk-rounds.js';
import {
  EMPTY_BLOCK,
  advanceAttempt,
  cleanReads,
  cloneBlock,
  currentBlocks,
  highestRound,
  makeBallot,
  recoverOwnBlock,
  roundOf,
  type Attempt,
} from './paxos.js';
import type { Decision, HeartbeatPayload, HostId, Output, SlotRead, VotePayload } from './types.js';

export type ArbiterResult =
  | { kind: 'chosen'; value: Decision; ballot: number }
  | { kind: 'aborted'; instance: number; ballot: number; reason: string };

export interface Arbiter {
  /** Own durable state recovered after start: proposing and vote writes are allowed. */
  ready(): boolean;
  /** An attempt is running. */
  busy(): boolean;
  /** Starts deciding `value` for epoch value.epoch (= latest known epoch + 1). */
  propose(nowMs: number, value: Decision, out: Output[]): { ballot: number };
  /** Feeds a resolved I/O round; returns the outcome when an attempt ends. */
  onRoundResolved(nowMs: number, round: Round, out: Output[]): ArbiterResult | null;
  /** A decision became known (chosen or learned): record it and make it durable on a majority. */
  onDecisionKnown(nowMs: number, decision: Decision, out: Output[]): void;
  /** Whether this resolved round made `epoch`'s decision durable on a majority. */
  madeDurable(round: Round, epoch: number): boolean;
}

export class DiskPaxosArbiter implements Arbiter {
  private own: VotePayload = cloneBlock(EMPTY_BLOCK);
  private recovered = false;
  private attempt: Attempt | null = null;
  private seenRound = 0;
  private voteSeq = 0;
  private pendingDurable: Decision | null = null;
  private firstRecoveryAtMs: number | null = null;
  /** Highest epoch any trusted sector showed since start (heartbeats, blocks, the start floor): the recovery floor. */
  private highestEpochSeen = 0;
  private refusalLogged = false;
  /** The (instance, ballot) of our last vote write: they never go back. */
  private written = { instance: 0, mbal: 0 };
  private retryDecided = false;
  private ownSlotDamaged = false;

  constructor(
    private readonly selfId: HostId,
    private readonly incarnation: number,
    private readonly rounds: DiskRounds,
    private readonly skipPhase1Check: boolean,
    private readonly majority: number,
    private readonly recoveryGraceMs: number,
    /** The epoch floor found in our own sectors at start: seen like any trusted sector's epoch. */
    epochFloor = 0,
  ) {
    this.highestEpochSeen = epochFloor;
  }

  ready(): boolean {
    return this.recovered;
  }

  busy(): boolean {
    return this.attempt !== null;
  }

  /**
   * The first majority read after start where our own slot is clean on a majority: carry
   * our own block on (Disk Paxos recovery). Returns null while that is not possible.
   */
  recover(round: Round, known: Decision | null, nowMs: number, out: Output[]): VotePayload | null {
    this.firstRecoveryAtMs ??= nowMs;
    this.highestEpochSeen = Math.max(this.highestEpochSeen, highestEpochShown(round.reads.values()), known?.epoch ?? 0);
    let reads = cleanReads(round.reads.values(), this.majority, this.selfId);
    if (reads === null) {
      // Our vote is unreadable on a majority: both copies damaged (docs/disk-layout.md, "Two
      // vote copies"). A torn write only damages the copy being written, never the one
      // holding the last acknowledged record, so with no valid copy on a disk none of our
      // writes was ever acknowledged there (a first write torn), unless two separate
      // failures hit both copies. Nobody can rewrite our sectors but us, and while they are
      // unreadable no host has a clean majority: after a grace period we recover from the
      // clean disks and rewrite them, but never below an epoch some sector still shows.
      if (nowMs - this.firstRecoveryAtMs < this.recoveryGraceMs) return null;
      reads = cleanReads(round.reads.values(), 1, this.selfId) ?? [];
      const recovered = recoverOwnBlock(reads, this.selfId);
      const reachable = Math.max(recovered.decided?.epoch ?? 0, known?.epoch ?? 0);
      if (reachable < this.highestEpochSeen) {
        this.refuseRegression(reachable, out);
        return null;
      }
    }
    this.own = recoverOwnBlock(reads, this.selfId);
    this.recovered = true;
    if (known !== null && (this.own.decided === null || this.own.decided.epoch < known.epoch)) this.own.decided = known;
    if (this.pendingDurable !== null) {
      this.pendingDurable = null;
      this.write(nowMs, 'decided', out);
    }
    return cloneBlock(this.own);
  }

  /** Waits (and says so once) instead of deciding an epoch that was already decided. */
  private refuseRegression(reachable: number, out: Output[]): void {
    if (this.refusalLogged) return;
    this.refusalLogged = true;
    out.push({
      kind: 'log',
      level: 'error',
      msg: 'own vote block is unreadable on a majority of the voting disks and no readable block carries the newest decision: not deciding until it can be read (rewrite or restore the vote sectors)',
      fields: { decidedEpochReadable: reachable, highestEpochSeen: this.highestEpochSeen },
    });
  }

  propose(nowMs: number, value: Decision, out: Output[]): { ballot: number } {
    assert(this.recovered, 'proposing before recovering own block');
    const instance = value.epoch;
    const sameInstance = this.own.instance === instance;
    const seen = Math.max(this.seenRound, sameInstance ? roundOf(this.own.mbal) : 0);
    const ballot = makeBallot(seen + 1, this.selfId);
    this.own = {
      instance,
      mbal: ballot,
      bal: sameInstance ? this.own.bal : 0,
      value: sameInstance ? this.own.value : null,
      decided: this.own.decided,
    };
    const round = this.write(nowMs, 'paxos', out);
    this.attempt = { instance, ballot, proposal: value, phase: 'p1-write', roundId: round.id, value: null, startedAtMs: nowMs };
    return { ballot };
  }

  onRoundResolved(nowMs: number, round: Round, out: Output[]): ArbiterResult | null {
    const a = this.attempt;
    if (a === null || a.roundId !== round.id || round.purpose !== 'paxos') return null;
    if (round.kind === 'read') {
      this.seenRound = Math.max(this.seenRound, highestRound(currentBlocks(round.reads.values(), this.selfId), a.instance));
    }
    const step = advanceAttempt(a, round, this.own, this.selfId, this.skipPhase1Check, this.majority);
    switch (step.kind) {
      case 'write':
        a.phase = step.phase;
        a.roundId = this.write(nowMs, 'paxos', out).id;
        return null;
      case 'read':
        a.phase = step.phase;
        a.roundId = this.rounds.issueRead(nowMs, 'paxos', out).id;
        return null;
      case 'aborted':
        this.attempt = null;
        return { kind: 'aborted', instance: a.instance, ballot: a.ballot, reason: step.reason };
      case 'chosen':
        this.attempt = null;
        return { kind: 'chosen', value: step.value, ballot: a.ballot };
    }
  }

  onDecisionKnown(nowMs: number, decision: Decision, out: Output[]): void {
    if (this.own.decided === null || this.own.decided.epoch < decision.epoch) this.own.decided = decision;
    if (this.attempt !== null && this.attempt.instance <= decision.epoch) this.attempt = null;
    if (!this.recovered) {
      this.pendingDurable = decision; // written right after recovery
      return;
    }
    this.write(nowMs, 'decided', out);
  }

  madeDurable(round: Round, epoch: number): boolean {
    return round.kind === 'write-vote' && round.outcome === 'succeeded' && round.voteRecord?.payload.decided?.epoch === epoch;
  }

  /** A disk showed our own vote slot damaged (torn, corrupt): rewrite it at the next repair. */
  noteOwnSlotDamaged(): void {
    this.ownSlotDamaged = true;
  }

  /** A vote write round resolved: whether it made decided `epoch` durable (a failed 'decided' round is retried). */
  onVoteRound(round: Round, epoch: number): boolean {
    if (round.outcome !== 'succeeded' && round.purpose === 'decided') this.retryDecided = true;
    return this.madeDurable(round, epoch);
  }

  /** Once per heartbeat period: re-sends the block after a failed 'decided' round (unless durable) or a damaged slot. */
  repair(nowMs: number, durable: boolean, out: Output[]): void {
    if ((this.retryDecided && !durable) || this.ownSlotDamaged) this.rewrite(nowMs, out);
    this.retryDecided = false;
    this.ownSlotDamaged = false;
  }

  /** Re-sends the block: after a failed 'decided' round, or to repair a torn own slot. */
  rewrite(nowMs: number, out: Output[]): void {
    if (this.recovered && this.attempt === null) this.write(nowMs, 'decided', out);
  }

  private write(nowMs: number, purpose: string, out: Output[]): Round {
    assert(this.recovered, 'vote write before recovering own block');
    const [instance, mbal] = [this.own.instance, this.own.mbal];
    assert(
      instance > this.written.instance || (instance === this.written.instance && mbal >= this.written.mbal),
      () => `ballot shrinks: writing instance ${instance} mbal ${mbal} after instance ${this.written.instance} mbal ${this.written.mbal}`,
    );
    this.written = { instance, mbal };
    const record = { hostId: this.selfId, incarnation: this.incarnation, sequence: ++this.voteSeq, payload: cloneBlock(this.own) };
    return this.rounds.issueVoteWrite(nowMs, purpose, record, out);
  }
}

/**
 * The highest epoch any trusted sector of these reads shows: heartbeats (the epoch each
 * host follows), decided values, and instances being decided (instance i means i - 1 was
 * decided). Deciding at or below it again would change a decided value.
 */
function highestEpochShown(reads: Iterable<DiskReadResult>): number {
  let highest = 0;
  for (const read of reads) {
    for (const hb of read.heartbeats) if (hb.verdict === 'ok' && hb.record) highest = Math.max(highest, hb.record.payload.epoch);
    for (const vote of read.votes) {
      const p = vote.verdict === 'ok' ? vote.record?.payload : undefined;
      if (p === undefined) continue;
      highest = Math.max(highest, p.decided?.epoch ?? 0, p.instance - 1);
    }
  }
  return highest;
}

/** One disk's view of a host's own sectors, as read at start (the chosen vote copy). */
export interface OwnSlots {
  heartbeat: SlotRead<HeartbeatPayload>;
  vote: SlotRead<VotePayload>;
}

/**
 * The epoch floor of a starting host (EngineConfig.epochFloor): the highest epoch its own
 * valid sectors show on any disk read: the heartbeat's epoch, the vote block's decided
 * epoch and instance - 1. The daemon and the simulator both derive it here.
 */
export function ownEpochFloor(disks: Iterable<OwnSlots>): number {
  let floor = 0;
  for (const own of disks) {
    if (own.heartbeat.verdict === 'ok' && own.heartbeat.record) floor = Math.max(floor, own.heartbeat.record.payload.epoch);
    const p = own.vote.verdict === 'ok' ? own.vote.record?.payload : undefined;
    if (p !== undefined) floor = Math.max(floor, p.decided?.epoch ?? 0, p.instance - 1);
  }
  return floor;
}
