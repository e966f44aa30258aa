// I/O rounds over the voting disks. A round sends one request per disk and succeeds once
// a majority answered in time; it fails when a majority can no longer answer in time.
//
// Ordering rules kept here (docs/engine.md, "Ordering"):
//   - At most one request per (disk, kind) is in flight. A write never overtakes an
//     earlier write of the same slot on the same disk, so a disk never goes back to an
//     older block (Disk Paxos needs a host's mbal on a disk to only grow). A vote write
//     that finds its disk busy waits (queued) and is issued when the earlier one answers.
//   - A request stuck in the kernel past the deadline keeps its disk busy: later rounds
//     count that disk as failed instead of piling requests onto it.
//   - The shell answers every request exactly once (done or failed), however late.

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
  roundId: number;
  disk: number;
  kind: RoundKind;
}

export class DiskRounds {
  private nextRequestId = 1;
  private nextRoundId = 1;
  private readonly rounds = new Map<number, Round>();
  private readonly requests = new Map<number, Request>();
  private readonly busy = new Map<string, number>(); // `${disk}:${kind}` -> requestId
  private readonly queuedVote = new Map<number, number>(); // disk -> roundId
  private resolved: Round[] = [];

  constructor(
    private readonly diskCount: number,
    private readonly majority: number,
    private readonly deadlineMs: number,
  ) {}

  issueRead(nowMs: number, purpose: string, out: Output[]): Round {
    const round = this.newRound('read', purpose, nowMs);
    for (let disk = 0; disk < this.diskCount; disk++) {
      const requestId = this.claim(round, disk);
      if (requestId !== undefined) out.push({ kind: 'read-disk', requestId, disk });
    }
    return this.settle(round);
  }

  issueHeartbeatWrite(nowMs: number, record: SlotRecord<HeartbeatPayload>, out: Output[]): Round {
    const round = this.newRound('write-heartbeat', 'periodic', nowMs);
    for (let disk = 0; disk < this.diskCount; disk++) {
      const requestId = this.claim(round, disk);
      if (requestId !== undefined) out.push({ kind: 'write-heartbeat', requestId, disk, record });
    }
    return this.settle(round);
  }

  issueVoteWrite(nowMs: number, purpose: string, record: SlotRecord<VotePayload>, out: Output[]): Round {
    const round = this.newRound('write-vote', purpose, nowMs);
    round.voteRecord = record;
    for (let disk = 0; disk < this.diskCount; disk++) {
      if (this.busy.has(`${disk}:write-vote`)) {
        const older = this.queuedVote.get(disk);
        if (older !== undefined) this.markFailed(older, disk);
        this.queuedVote.set(disk, round.id);
        continue;
      }
      const requestId = this.claim(round, disk);
      if (requestId !== undefined) out.push({ kind: 'write-vote', requestId, disk, record });
    }
    return this.settle(round);
  }

  /** Records an answer; returns the request's round (resolved or not), or undefined if unknown. */
  answer(requestId: number, ok: boolean, out: Output[], read?: DiskReadResult): Round | undefined {
    const request = this.requests.get(requestId);
    if (request === undefined) return undefined;
    this.requests.delete(requestId);
    this.busy.delete(`${request.disk}:${request.kind}`);
    const round = this.rounds.get(request.roundId);
    if (request.kind === 'write-vote') this.issueQueuedVote(request.disk, out);
    if (round === undefined) return undefined;
    if (ok) {
      round.ok.add(request.disk);
      if (read !== undefined) round.reads.set(request.disk, read);
    } else {
      round.failed.add(request.disk);
    }
    return this.settle(round);
  }

  /** Fails every open round whose deadline passed. */
  expire(nowMs: number): void {
    for (const round of this.rounds.values()) {
      if (round.outcome === 'open' && nowMs - round.issuedAtMs >= this.deadlineMs) {
        round.outcome = 'failed';
        this.resolved.push(round);
      }
    }
    this.forgetResolved();
  }

  /** Rounds that succeeded or failed since the last call, in the order they resolved. */
  drainResolved(): Round[] {
    const out = this.resolved;
    this.resolved = [];
    return out;
  }

  get(roundId: number): Round | undefined {
    return this.rounds.get(roundId);
  }

  /** Whether a request was issued and never answered (for tests and the view). */
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

  private claim(round: Round, disk: number): number | undefined {
    const key = `${disk}:${round.kind}`;
    if (this.busy.has(key)) {
      round.failed.add(disk);
      return undefined;
    }
    const requestId = this.nextRequestId++;
    this.busy.set(key, requestId);
    this.requests.set(requestId, { roundId: round.id, disk, kind: round.kind });
    return requestId;
  }

  private issueQueuedVote(disk: number, out: Output[]): void {
    const roundId = this.queuedVote.get(disk);
    if (roundId === undefined) return;
    this.queuedVote.delete(disk);
    const round = this.rounds.get(roundId);
    if (round === undefined || round.outcome !== 'open' || round.voteRecord === undefined) return;
    const requestId = this.claim(round, disk);
    if (requestId !== undefined) out.push({ kind: 'write-vote', requestId, disk, record: round.voteRecord });
  }

  private markFailed(roundId: number, disk: number): void {
    const round = this.rounds.get(roundId);
    if (round === undefined) return;
    round.failed.add(disk);
    this.settle(round);
  }

  private settle(round: Round): Round {
    if (round.outcome !== 'open') return round;
    if (round.ok.size >= this.majority) round.outcome = 'succeeded';
    else if (round.failed.size > this.diskCount - this.majority) round.outcome = 'failed';
    if (round.outcome !== 'open') this.resolved.push(round);
    return round;
  }

  private forgetResolved(): void {
    const liveRounds = new Set([...this.requests.values()].map((r) => r.roundId));
    for (const id of this.queuedVote.values()) liveRounds.add(id);
    for (const [id, round] of this.rounds) {
      if (round.outcome !== 'open' && !liveRounds.has(id)) this.rounds.delete(id);
    }
  }
}
