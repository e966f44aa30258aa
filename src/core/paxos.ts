// Disk Paxos (Gafni & Lamport, 2003) over the single-writer vote sectors: each host owns
// one block per disk and reads everybody's. One instance per epoch: the instance being
// decided is (latest decided epoch + 1); blocks of a lower instance count as empty.
//
//   phase 1: write own block {instance, mbal=b}; read a majority of disks; abort if any
//            block of this instance has mbal > b; pick the value with the highest bal,
//            else our own proposal.
//   phase 2: write {bal=b, value=v}; read a majority again; abort if any mbal > b;
//            otherwise v is chosen: write decided=v (commit).
//
// Ballots are round*256 + hostId, unique per host. A restarted host first reads its own
// block from a majority and carries its mbal/bal/value on (recovery); a block of an
// older incarnation of a host is ignored once a newer incarnation's block is seen,
// because the newer one carries everything the old one wrote to a majority.

import { assert } from './assert.js';
import type { DiskReadResult, Round } from './disk-rounds.js';
import type { Decision, HostId, SlotRecord, VotePayload } from './types.js';

export const EMPTY_BLOCK: VotePayload = { instance: 0, mbal: 0, bal: 0, value: null, decided: null };

export function makeBallot(round: number, hostId: HostId): number {
  assert(Number.isSafeInteger(round) && round >= 1 && hostId >= 1 && hostId <= 255, () => `ballot of round ${round} host ${hostId}`);
  return round * 256 + hostId;
}

export function roundOf(ballot: number): number {
  return Math.floor(ballot / 256);
}

export function sameDecision(a: Decision | null, b: Decision | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.epoch === b.epoch &&
    a.masterId === b.masterId &&
    a.members.length === b.members.length &&
    a.members.every((m, i) => b.members[i] === m)
  );
}

export function cloneBlock(block: VotePayload): VotePayload {
  const copy = (d: Decision | null): Decision | null => (d === null ? null : { ...d, members: [...d.members] });
  return { ...block, value: copy(block.value), decided: copy(block.decided) };
}

/** Every trusted block read, keeping per host only its newest incarnation's blocks. */
export function currentBlocks(reads: Iterable<DiskReadResult>, excludeHost?: HostId): SlotRecord<VotePayload>[] {
  const all: SlotRecord<VotePayload>[] = [];
  for (const read of reads) {
    for (const slot of read.votes) {
      if (slot.verdict !== 'ok' || slot.record === undefined) continue;
      if (slot.record.hostId !== slot.hostId || slot.hostId === excludeHost) continue;
      all.push(slot.record);
    }
  }
  const newest = new Map<HostId, number>();
  for (const r of all) newest.set(r.hostId, Math.max(newest.get(r.hostId) ?? 0, r.incarnation));
  return all.filter((r) => r.incarnation === newest.get(r.hostId));
}

/**
 * The disk reads a phase may rely on: those where every vote slot is a valid block or
 * empty. A torn (crc-mismatch) or otherwise unreadable slot could hide an accepted value,
 * and Disk Paxos assumes a block is either there or not: such a disk does not count
 * until its owner rewrites the slot. Returns null when fewer than `majority` are clean.
 */
export function cleanReads(reads: Iterable<DiskReadResult>, majority: number, onlyHost?: HostId): DiskReadResult[] | null {
  const clean = [...reads].filter((r) =>
    r.votes.every((slot) => (onlyHost !== undefined && slot.hostId !== onlyHost) || slot.verdict === 'ok' || slot.verdict === 'empty'),
  );
  return clean.length >= majority ? clean : null;
}

/** The newest decision any block says is committed. */
export function learnedDecision(blocks: SlotRecord<VotePayload>[]): Decision | null {
  let best: Decision | null = null;
  for (const b of blocks) {
    const d = b.payload.decided;
    if (d !== null && (best === null || d.epoch > best.epoch)) best = d;
  }
  return best;
}

/** The highest ballot round seen for `instance` (0 if none). */
export function highestRound(blocks: SlotRecord<VotePayload>[], instance: number): number {
  let best = 0;
  for (const b of blocks) {
    if (b.payload.instance === instance) best = Math.max(best, roundOf(b.payload.mbal));
    if (b.payload.instance > instance) best = Math.max(best, roundOf(b.payload.mbal));
  }
  return best;
}

/** Phase 1/2 abort check: someone started a higher ballot in this instance, or a later instance. */
export function outbid(blocks: SlotRecord<VotePayload>[], instance: number, ballot: number): boolean {
  return blocks.some(
    (b) => b.payload.instance > instance || (b.payload.instance === instance && b.payload.mbal > ballot),
  );
}

/** Phase 1 value: the accepted value with the highest bal in this instance, if any. */
export function highestAccepted(blocks: SlotRecord<VotePayload>[], own: VotePayload, instance: number): Decision | null {
  let bestBal = 0;
  let best: Decision | null = null;
  const consider = (p: VotePayload): void => {
    if (p.instance === instance && p.bal > bestBal && p.value !== null) {
      bestBal = p.bal;
      best = p.value;
    }
  };
  consider(own);
  for (const b of blocks) consider(b.payload);
  return best;
}

/** Own block recovered after a restart: the newest own record on the (clean) disks read. */
export function recoverOwnBlock(reads: Iterable<DiskReadResult>, selfId: HostId): VotePayload {
  let best: SlotRecord<VotePayload> | undefined;
  for (const read of reads) {
    for (const slot of read.votes) {
      const r = slot.record;
      if (slot.verdict !== 'ok' || r === undefined || slot.hostId !== selfId || r.hostId !== selfId) continue;
      if (best === undefined || r.incarnation > best.incarnation || (r.incarnation === best.incarnation && r.sequence > best.sequence)) {
        best = r;
      }
    }
  }
  return best === undefined ? cloneBlock(EMPTY_BLOCK) : cloneBlock(best.payload);
}

export type AttemptPhase = 'p1-write' | 'p1-read' | 'p2-write' | 'p2-read';

export interface Attempt {
  instance: number;
  ballot: number;
  proposal: Decision;
  phase: AttemptPhase;
  roundId: number;
  value: Decision | null;
  startedAtMs: number;
}

/** Where a resolved round leaves an attempt. */
export type AttemptStep =
  | { kind: 'write'; phase: AttemptPhase } // write own block now, then this phase
  | { kind: 'read'; phase: AttemptPhase } // read a majority now, then this phase
  | { kind: 'chosen'; value: Decision }
  | { kind: 'aborted'; reason: string };

/**
 * Advances an attempt after its round resolved. Mutates `own` (the host's block) as the
 * algorithm says; the caller writes it or reads as told. `skipChecks` is the deliberately
 * broken rule (tests only): no ballot checks, no adoption of accepted values.
 */
export function advanceAttempt(
  attempt: Attempt,
  round: Round,
  own: VotePayload,
  selfId: HostId,
  skipChecks: boolean,
  majority: number,
): AttemptStep {
  if (round.outcome !== 'succeeded') return { kind: 'aborted', reason: `${attempt.phase} did not reach a disk majority in time` };
  const reads = cleanReads(round.reads.values(), majority);
  if (attempt.phase.endsWith('read') && reads === null) return { kind: 'aborted', reason: 'a torn vote sector leaves no clean disk majority' };
  switch (attempt.phase) {
    case 'p1-write':
      return { kind: 'read', phase: 'p1-read' };
    case 'p1-read': {
      const blocks = currentBlocks(reads ?? [], selfId);
      if (!skipChecks && outbid(blocks, attempt.instance, attempt.ballot)) {
        return { kind: 'aborted', reason: 'phase 1 saw a higher ballot' };
      }
      const accepted = skipChecks ? null : highestAccepted(blocks, own, attempt.instance);
      attempt.value = accepted ?? attempt.proposal;
      own.bal = attempt.ballot;
      own.value = attempt.value;
      return { kind: 'write', phase: 'p2-write' };
    }
    case 'p2-write':
      return { kind: 'read', phase: 'p2-read' };
    case 'p2-read': {
      const blocks = currentBlocks(reads ?? [], selfId);
      if (!skipChecks && outbid(blocks, attempt.instance, attempt.ballot)) return { kind: 'aborted', reason: 'phase 2 saw a higher ballot' };
      assert(attempt.value !== null, 'phase 2 without a value');
      return { kind: 'chosen', value: attempt.value };
    }
  }
}
