// I/O rounds over the voting disks. A round sends one request per disk and succeeds once
// a majority answered in time; it fails when a majority can no longer answer in time.
//
// Ordering rules kept here (docs/engine.md, "Ordering"):
//   - At most one request per (disk, kind) is in flight. A write never overtakes an
//     earlier write of the same slot on the same disk, so a disk never goes back to an
//     older block (Disk Paxos needs a host's mbal on a disk to only grow). A request that
//     finds its disk busy waits (at most one queued per disk and kind) and is issued when
//     the earlier one answers.
//   - A request stuck in the kernel keeps its disk busy: requests do not pile up on it;
//     the rounds waiting for it fail at their deadline.
//   - The shell answers every request exactly once (done or failed), however late.

import { assert } from './assert.js';
import type { HeartbeatPayload, Output, SlotRead, SlotRecord, VotePayload } from './types.js';

export type RoundKind = 'read' | 'write-heartbeat' | 'write-vote';

export interface DiskReadResult {
  heartbeats: SlotRead<HeartbeatPayload>[];
  votes: SlotRead<VotePayload>[];
}

export interface Round {
  id: number;
  kind: RoundKind;
  /** Who asked: 'periodic', 'paxos', 'decided', ... the engine routes the outcome by it. */
  purpose: string;
  issuedAtMs: number;
  ok: Set<number>;
  failed: Set<number>;
  reads: Map<number, DiskReadResult>;
  outcome: 'open' | 'succeeded' | 'failed';
  voteRecord?: SlotRecord<VotePayload>;
}

interface Request {
  roundIds: number[];
  disk: number;
  kind: RoundKind;
}

interface Queued {
  roundIds: number[];
  voteRecord?: SlotRecord<VotePayload>;
  heartbeatRecord?: SlotRecord<HeartbeatPayload>;
}

export class DiskRounds {
  private nextRequestId = 1;
  private nextRoundId = 1;
  private readonly rounds = new Map<number, Round>();
  private readonly requests = new Map<number, Request>();
  private readonly busy = new Map<string, number>(); // `${disk}:${kind}` -> requestId
  private readonly queued = new Map<string, Queued>(); // `${disk}:${kind}` -> waiting request
  private resolved: Round[] = [];

  constructor(
    private readonly diskCount: number,
    private readonly majority: number,
    private readonly deadlineMs: number,
  ) {}

  issueRead(nowMs: number, purpose: string, out: Output[]): Round {
    const round = this.newRound('read', purpose, nowMs);
    for (let disk = 0; disk < this.diskCount; disk++) this.send(round, disk, {}, out);
    return this.settle(round);
  }

  issueHeartbeatWrite(nowMs: number, record: SlotRecord<HeartbeatPayload>, out: Output[]): Round {
    const round = this.newRound('write-heartbeat', 'periodic', nowMs);
    for (let disk = 0; disk < this.diskCount; disk++) this.send(round, disk, { heartbeatRecord: record }, out);
    return this.settle(round);
  }

  issueVoteWrite(nowMs: number, purpose: string, record: SlotRecord<VotePayload>, out: Output[]): Round {
    const round = this.newRound('write-vote', purpose, nowMs);
    round.voteRecord = record;
    for (let disk = 0; disk < this.diskCount; disk++) this.send(round, disk, { voteRecord: record }, out);
    return this.settle(round);
  }

  /** Records an answer for every round the request serves. */
  answer(requestId: number, ok: boolean, out: Output[], read?: DiskReadResult): void {
    const request = this.requests.get(requestId);
    if (request === undefined) return;
    this.requests.delete(requestId);
    const key = `${request.disk}:${request.kind}`;
    this.busy.delete(key);
    for (const roundId of request.roundIds) {
      const round = this.rounds.get(roundId);
      if (round === undefined || round.outcome !== 'open') continue;
      if (ok) {
        round.ok.add(request.disk);
        if (read !== undefined) round.reads.set(request.disk, read);
      } else {
        round.failed.add(request.disk);
      }
      this.settle(round);
    }
    this.issueQueued(request.disk, request.kind, out);
  }

  /** Fails every open round whose deadline passed. */
  expire(nowMs: number): void {
    for (const round of this.rounds.values()) {
      if (round.outcome === 'open' && nowMs - round.issuedAtMs >= this.deadlineMs) this.resolve(round, 'failed');
    }
    this.forgetResolved();
  }

  /** Rounds that succeeded or failed since the last call, in the order they resolved. */
  drainResolved(): Round[] {
    const out = this.resolved;
    this.resolved = [];
    return out;
  }

  /** The id of the newest request issued so far (0 if none). */
  lastRequestId(): number {
    return this.nextRequestId - 1;
  }

  /** Requests issued and not answered yet. */
  pendingCount(): number {
    return this.requests.size;
  }

  private newRound(kind: RoundKind, purpose: string, nowMs: number): Round {
    const round: Round = {
      id: this.nextRoundId++,
      kind,
      purpose,
      issuedAtMs: nowMs,
      ok: new Set(),
      failed: new Set(),
      reads: new Map(),
      outcome: 'open',
    };
    this.rounds.set(round.id, round);
    return round;
  }

  /**
   * Sends the round's request to a disk, or queues it behind the request in flight. A
   * queued read serves every round waiting for it (it is fresher than any of them needs);
   * a queued write carries only the newest record, the rounds it replaces fail on that disk.
   */
  private send(round: Round, disk: number, records: Omit<Queued, 'roundIds'>, out: Output[]): void {
    const key = `${disk}:${round.kind}`;
    if (!this.busy.has(key)) {
      this.emit(disk, round.kind, [round.id], records, out);
      return;
    }
    const waiting = this.queued.get(key);
    if (waiting === undefined || round.kind === 'read') {
      this.queued.set(key, { roundIds: [...(waiting?.roundIds ?? []), round.id], ...records });
      return;
    }
    for (const id of waiting.roundIds) this.failOn(id, disk);
    this.queued.set(key, { roundIds: [round.id], ...records });
  }

  private emit(disk: number, kind: RoundKind, roundIds: number[], records: Omit<Queued, 'roundIds'>, out: Output[]): void {
    const requestId = this.nextRequestId++;
    this.busy.set(`${disk}:${kind}`, requestId);
    this.requests.set(requestId, { roundIds, disk, kind });
    if (kind === 'read') out.push({ kind: 'read-disk', requestId, disk });
    else if (kind === 'write-heartbeat' && records.heartbeatRecord !== undefined) {
      out.push({ kind: 'write-heartbeat', requestId, disk, record: records.heartbeatRecord });
    } else if (kind === 'write-vote' && records.voteRecord !== undefined) {
      out.push({ kind: 'write-vote', requestId, disk, record: records.voteRecord });
    } else {
      assert(false, `${kind} request without a record`);
    }
  }

  private issueQueued(disk: number, kind: RoundKind, out: Output[]): void {
    const key = `${disk}:${kind}`;
    const waiting = this.queued.get(key);
    if (waiting === undefined) return;
    this.queued.delete(key);
    const open = waiting.roundIds.filter((id) => this.rounds.get(id)?.outcome === 'open');
    if (open.length === 0) return;
    this.emit(disk, kind, open, waiting, out);
  }

  private failOn(roundId: number, disk: number): void {
    const round = this.rounds.get(roundId);
    if (round === undefined || round.outcome !== 'open') return;
    round.failed.add(disk);
    this.settle(round);
  }

  private settle(round: Round): Round {
    if (round.outcome !== 'open') return round;
    assert(![...round.ok].some((disk) => round.failed.has(disk)), () => `round ${round.id}: a disk both answered and failed`);
    if (round.ok.size >= this.majority) this.resolve(round, 'succeeded');
    else if (round.failed.size > this.diskCount - this.majority) this.resolve(round, 'failed');
    return round;
  }

  /** A round's outcome only moves forward: open, then succeeded or failed, once. */
  private resolve(round: Round, outcome: 'succeeded' | 'failed'): void {
    assert(round.outcome === 'open', () => `round ${round.id} resolved twice (${round.outcome}, then ${outcome})`);
    round.outcome = outcome;
    this.resolved.push(round);
  }

  private forgetResolved(): void {
    const live = new Set<number>();
    for (const r of this.requests.values()) for (const id of r.roundIds) live.add(id);
    for (const q of this.queued.values()) for (const id of q.roundIds) live.add(id);
    for (const [id, round] of this.rounds) {
      if (round.outcome !== 'open' && !live.has(id)) this.rounds.delete(id);
    }
  }
}
