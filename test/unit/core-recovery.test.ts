// Recovery of a host's own vote block when it is unreadable on a majority (both A/B
// copies damaged): after a grace period the host recovers from the clean disks so the
// cluster stays live, but never to decide an epoch some trusted sector shows as decided.
import { describe, expect, it } from 'vitest';
import { DiskPaxosArbiter } from '../../src/core/arbitration.js';
import { DiskRounds, type DiskReadResult, type Round } from '../../src/core/disk-rounds.js';
import type { HeartbeatPayload, Output, SlotRead, VotePayload } from '../../src/core/types.js';

const GRACE_MS = 1000;

function heartbeat(hostId: number, epoch: number): SlotRead<HeartbeatPayload> {
  const payload: HeartbeatPayload = { role: 'starting', epoch, masterId: 1, heard: [], resources: [], flags: 0 };
  return { hostId, verdict: 'ok', record: { hostId, incarnation: 1, sequence: 5, payload } };
}

function readRound(read: DiskReadResult): Round {
  return { id: 1, kind: 'read', purpose: 'periodic', issuedAtMs: 0, ok: new Set([0]), failed: new Set(), reads: new Map([[0, read]]), outcome: 'succeeded' };
}

const tornOwnVote: SlotRead<VotePayload> = { hostId: 1, verdict: 'crc-mismatch' };

function arbiter(): DiskPaxosArbiter {
  return new DiskPaxosArbiter(1, 2, new DiskRounds(1, 1, 500), false, 1, GRACE_MS);
}

describe('recovering an unreadable own vote block (one disk)', () => {
  it('waits for the grace period, then recovers when no sector shows a decided epoch', () => {
    const a = arbiter();
    const out: Output[] = [];
    const round = readRound({ heartbeats: [heartbeat(1, 0)], votes: [tornOwnVote] });
    expect(a.recover(round, null, 0, out)).toBeNull();
    expect(a.recover(round, null, GRACE_MS - 1, out)).toBeNull();
    expect(a.ready()).toBe(false);
    expect(a.recover(round, null, GRACE_MS, out)).toMatchObject({ instance: 0, mbal: 0, decided: null });
    expect(a.ready()).toBe(true);
  });

  it('refuses, and says so once, while a heartbeat shows an epoch no readable block carries', () => {
    const a = arbiter();
    const out: Output[] = [];
    // The previous run's heartbeat says epoch 2; the only copy of decision 2 was in our block.
    const before = readRound({ heartbeats: [heartbeat(1, 2)], votes: [tornOwnVote] });
    const after = readRound({ heartbeats: [heartbeat(1, 0)], votes: [tornOwnVote] });
    expect(a.recover(before, null, 0, out)).toBeNull();
    expect(a.recover(after, null, GRACE_MS, out)).toBeNull();
    expect(a.recover(after, null, 5 * GRACE_MS, out)).toBeNull();
    expect(a.ready()).toBe(false);
    const errors = out.filter((o) => o.kind === 'log' && o.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ fields: { decidedEpochReadable: 0, highestEpochSeen: 2 } });
    // Once the decision of epoch 2 is known (e.g. learned from a peer's block), it recovers.
    const known = { epoch: 2, masterId: 1, members: [1] };
    expect(a.recover(after, known, 6 * GRACE_MS, out)).toMatchObject({ decided: known });
    expect(a.ready()).toBe(true);
  });

  it('counts a peer block\'s instance: instance 4 means epoch 3 was decided', () => {
    const a = arbiter();
    const out: Output[] = [];
    const peer: SlotRead<VotePayload> = {
      hostId: 2, verdict: 'ok',
      record: { hostId: 2, incarnation: 1, sequence: 3, payload: { instance: 4, mbal: 258, bal: 0, value: null, decided: null } },
    };
    const round = readRound({ heartbeats: [], votes: [tornOwnVote, peer] });
    expect(a.recover(round, null, 0, out)).toBeNull();
    expect(a.recover(round, null, GRACE_MS, out)).toBeNull(); // past the grace, but epoch 3 is not readable
    expect(out.some((o) => o.kind === 'log' && o.level === 'error')).toBe(true);
    expect(a.recover(round, { epoch: 3, masterId: 2, members: [1, 2] }, GRACE_MS, out)).not.toBeNull();
  });
});
