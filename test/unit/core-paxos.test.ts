import { describe, expect, it } from 'vitest';
import type { DiskReadResult, Round } from '../../src/core/disk-rounds.js';
import {
  EMPTY_BLOCK,
  advanceAttempt,
  cleanReads,
  cloneBlock,
  currentBlocks,
  highestAccepted,
  highestRound,
  learnedDecision,
  makeBallot,
  outbid,
  recoverOwnBlock,
  type Attempt,
} from '../../src/core/paxos.js';
import type { Decision, HostId, SlotRecord, VotePayload } from '../../src/core/types.js';

type Disk = Map<HostId, SlotRecord<VotePayload>>;

function readDisks(disks: Disk[], which: number[]): Map<number, DiskReadResult> {
  const reads = new Map<number, DiskReadResult>();
  for (const i of which) {
    const votes = [...(disks[i] ?? new Map()).values()].map((record) => ({
      hostId: record.hostId,
      verdict: 'ok' as const,
      record: structuredClone(record),
    }));
    reads.set(i, { heartbeats: [], votes });
  }
  return reads;
}

function round(reads: Map<number, DiskReadResult>): Round {
  return { id: 1, kind: 'read', purpose: 'paxos', issuedAtMs: 0, ok: new Set(reads.keys()), failed: new Set(), reads, outcome: 'succeeded' };
}

const WRITE_OK: Round = { id: 1, kind: 'write-vote', purpose: 'paxos', issuedAtMs: 0, ok: new Set([0, 1]), failed: new Set(), reads: new Map(), outcome: 'succeeded' };

/** One proposer driven step by step, retrying with a higher ballot after an abort. */
class Proposer {
  own: VotePayload = cloneBlock(EMPTY_BLOCK);
  seq = 0;
  roundNo = 0;
  attempt: Attempt | null = null;
  chosen: Decision | null = null;
  pendingRead = false;

  constructor(
    readonly id: HostId,
    readonly proposal: Decision,
    readonly writeTo: number[],
    readonly readFrom: number[],
    readonly skipPhase1Check = false,
    readonly incarnation = 1,
  ) {}

  private write(disks: Disk[]): void {
    const record = { hostId: this.id, incarnation: this.incarnation, sequence: ++this.seq, payload: cloneBlock(this.own) };
    for (const i of this.writeTo) disks[i]?.set(this.id, record);
  }

  private begin(disks: Disk[]): void {
    const instance = this.proposal.epoch;
    this.roundNo += 1;
    const ballot = makeBallot(this.roundNo, this.id);
    const same = this.own.instance === instance;
    this.own = { instance, mbal: ballot, bal: same ? this.own.bal : 0, value: same ? this.own.value : null, decided: this.own.decided };
    this.attempt = { instance, ballot, proposal: this.proposal, phase: 'p1-write', roundId: 1, value: null, startedAtMs: 0 };
    this.write(disks);
  }

  /** Performs the next disk operation; returns false when done. */
  step(disks: Disk[]): boolean {
    if (this.chosen !== null) return false;
    if (this.attempt === null) {
      this.begin(disks);
      return true;
    }
    const a = this.attempt;
    const r = a.phase.endsWith('read') ? round(readDisks(disks, this.readFrom)) : WRITE_OK;
    if (a.phase.endsWith('read')) {
      this.roundNo = Math.max(this.roundNo, highestRound(currentBlocks(r.reads.values(), this.id), a.instance));
    }
    const next = advanceAttempt(a, r, this.own, this.id, this.skipPhase1Check, 2);
    if (next.kind === 'write') {
      a.phase = next.phase;
      this.write(disks);
    } else if (next.kind === 'read') {
      a.phase = next.phase;
    } else if (next.kind === 'aborted') {
      this.attempt = null;
    } else {
      this.chosen = next.value;
      this.own.decided = next.value;
      this.write(disks);
    }
    return true;
  }
}

const V1: Decision = { epoch: 1, masterId: 1, members: [1, 2, 3] };
const V2: Decision = { epoch: 1, masterId: 2, members: [2, 3] };

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('Disk Paxos', () => {
  it('two concurrent proposers never choose different values (1000 random interleavings)', () => {
    let bothChose = 0;
    for (let seed = 1; seed <= 1000; seed++) {
      const rand = lcg(seed);
      const disks: Disk[] = [new Map(), new Map(), new Map()];
      const p = new Proposer(1, V1, [0, 1], [1, 2]);
      const q = new Proposer(2, V2, [1, 2], [0, 1]);
      for (let i = 0; i < 400 && (p.chosen === null || q.chosen === null); i++) {
        const first = rand() < 0.5 ? p : q;
        if (!first.step(disks)) (first === p ? q : p).step(disks);
      }
      expect(p.chosen).not.toBeNull();
      expect(q.chosen).not.toBeNull();
      expect(q.chosen).toEqual(p.chosen);
      bothChose += 1;
    }
    expect(bothChose).toBe(1000);
  });

  it('the broken rule skipPhase1Check lets two proposers choose different values', () => {
    const disks: Disk[] = [new Map(), new Map(), new Map()];
    const p = new Proposer(1, V1, [0, 1, 2], [0, 1, 2], true);
    const q = new Proposer(2, V2, [0, 1, 2], [0, 1, 2], true);
    while (p.step(disks));
    while (q.step(disks));
    expect(p.chosen).toEqual(V1);
    expect(q.chosen).toEqual(V2);
    // the same schedule with the rule intact agrees
    const fair: Disk[] = [new Map(), new Map(), new Map()];
    const p2 = new Proposer(1, V1, [0, 1, 2], [0, 1, 2]);
    const q2 = new Proposer(2, V2, [0, 1, 2], [0, 1, 2]);
    while (p2.step(fair));
    while (q2.step(fair));
    expect(q2.chosen).toEqual(V1);
  });

  it('treats blocks of a lower instance as empty and a higher instance as outbidding', () => {
    const stale: SlotRecord<VotePayload> = {
      hostId: 2,
      incarnation: 1,
      sequence: 9,
      payload: { instance: 1, mbal: makeBallot(50, 2), bal: makeBallot(50, 2), value: V2, decided: null },
    };
    const ahead: SlotRecord<VotePayload> = { ...stale, hostId: 3, payload: { ...stale.payload, instance: 3, mbal: 3 } };
    expect(outbid([stale], 2, makeBallot(1, 1))).toBe(false);
    expect(highestAccepted([stale], cloneBlock(EMPTY_BLOCK), 2)).toBeNull();
    expect(outbid([ahead], 2, makeBallot(1, 1))).toBe(true);
  });

  it('learns the newest committed decision and ignores blocks of an older incarnation', () => {
    const mk = (hostId: number, incarnation: number, sequence: number, decided: Decision | null): SlotRecord<VotePayload> => ({
      hostId,
      incarnation,
      sequence,
      payload: { ...cloneBlock(EMPTY_BLOCK), decided },
    });
    const d3 = { epoch: 3, masterId: 2, members: [2] };
    const reads = [
      { heartbeats: [], votes: [{ hostId: 1, verdict: 'ok' as const, record: mk(1, 1, 5, { epoch: 2, masterId: 1, members: [1] }) }] },
      { heartbeats: [], votes: [{ hostId: 1, verdict: 'ok' as const, record: mk(1, 2, 1, null) }, { hostId: 2, verdict: 'ok' as const, record: mk(2, 1, 1, d3) }] },
      { heartbeats: [], votes: [{ hostId: 2, verdict: 'crc-mismatch' as const, record: mk(2, 1, 2, { epoch: 9, masterId: 2, members: [2] }) }] },
    ];
    const blocks = currentBlocks(reads);
    expect(blocks.map((b) => `${b.hostId}/${b.incarnation}`).sort()).toEqual(['1/2', '2/1']);
    expect(learnedDecision(blocks)).toEqual(d3);
  });

  it('a disk with a torn vote slot does not count towards a phase majority', () => {
    const ok = { heartbeats: [], votes: [{ hostId: 1, verdict: 'empty' as const }] };
    const torn = { heartbeats: [], votes: [{ hostId: 1, verdict: 'crc-mismatch' as const }, { hostId: 2, verdict: 'empty' as const }] };
    expect(cleanReads([ok, torn, ok], 2)).toHaveLength(2);
    expect(cleanReads([ok, torn, torn], 2)).toBeNull();
    // recovery only cares about our own slot
    expect(cleanReads([ok, torn], 2, 2)).toHaveLength(2);
    // an attempt whose read finds no clean majority aborts instead of guessing
    const attempt: Attempt = { instance: 1, ballot: makeBallot(1, 2), proposal: V2, phase: 'p1-read', roundId: 1, value: null, startedAtMs: 0 };
    const reads = new Map([[0, ok], [1, torn]]);
    const step = advanceAttempt(attempt, round(reads), cloneBlock(EMPTY_BLOCK), 2, false, 2);
    expect(step).toEqual({ kind: 'aborted', reason: 'a torn vote sector leaves no clean disk majority' });
  });

  it('a restarted proposer that lost a minority write cannot make others pick the lost value', () => {
    const disks: Disk[] = [new Map(), new Map(), new Map()];
    // incarnation 1 of host 1 accepted V1 on disk 0 only, then crashed
    disks[0]?.set(1, { hostId: 1, incarnation: 1, sequence: 3, payload: { instance: 1, mbal: makeBallot(5, 1), bal: makeBallot(5, 1), value: V1, decided: null } });
    // incarnation 2 recovers from disks 1 and 2 (nothing there) and chooses V2 with a lower ballot
    const recovered = recoverOwnBlock(readDisks(disks, [1, 2]).values(), 1);
    expect(recovered).toEqual(EMPTY_BLOCK);
    const p = new Proposer(1, V2, [1, 2], [1, 2], false, 2);
    p.own = recovered;
    while (p.step(disks));
    expect(p.chosen).toEqual(V2);
    // host 2 reads disks 0 and 1: sees the lost V1 (incarnation 1) and the new block; it must pick V2
    const q = new Proposer(2, V1, [0, 1, 2], [0, 1]);
    q.roundNo = 10;
    while (q.step(disks));
    expect(q.chosen).toEqual(V2);
  });
});
