// The A/B rule for vote sectors: which copy a reader trusts, which copy a writer
// overwrites, and that a torn write can never take the last durable record down.
import { describe, expect, it } from 'vitest';
import type { SlotRead, SlotVerdict, VotePayload } from '../../src/core/types.js';
import { buildHeader, decodeVotePair, encodeVoteSlot } from '../../src/disk/layout.js';
import { chooseCopy, voteCopyToWrite } from '../../src/disk/vote-copies.js';

const UUID = '6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e8';
const payload = (instance: number): VotePayload => ({ instance, mbal: 257, bal: 0, value: null, decided: null });

function ok(incarnation: number, sequence: number): SlotRead<VotePayload> {
  return { hostId: 1, verdict: 'ok', record: { hostId: 1, incarnation, sequence, payload: payload(sequence) } };
}
const bad = (verdict: SlotVerdict): SlotRead<VotePayload> => ({ hostId: 1, verdict });

describe('chooseCopy', () => {
  it('trusts the ok copy with the highest (incarnation, sequence)', () => {
    expect(chooseCopy([ok(1, 4), ok(1, 5)]).record!.sequence).toBe(5);
    expect(chooseCopy([ok(2, 1), ok(1, 9)]).record!.incarnation).toBe(2);
    expect(chooseCopy([ok(1, 3), bad('crc-mismatch')]).record!.sequence).toBe(3);
    expect(chooseCopy([bad('empty'), ok(1, 1)]).verdict).toBe('ok');
  });

  it('without an ok copy returns the worse verdict: a torn copy beside an empty one is never clean', () => {
    expect(chooseCopy([bad('empty'), bad('empty')]).verdict).toBe('empty');
    expect(chooseCopy([bad('crc-mismatch'), bad('empty')]).verdict).toBe('crc-mismatch');
    expect(chooseCopy([bad('empty'), bad('crc-mismatch')]).verdict).toBe('crc-mismatch');
    expect(chooseCopy([bad('crc-mismatch'), bad('foreign')]).verdict).toBe('foreign');
    expect(chooseCopy([bad('corrupt'), bad('crc-mismatch')]).record).toBeUndefined();
  });
});

describe('voteCopyToWrite', () => {
  it('never picks the copy holding the newest ok record', () => {
    expect(voteCopyToWrite([bad('empty'), bad('empty')])).toBe(0);
    expect(voteCopyToWrite([ok(1, 1), bad('empty')])).toBe(1);
    expect(voteCopyToWrite([ok(1, 1), ok(1, 2)])).toBe(0);
    expect(voteCopyToWrite([ok(1, 3), ok(1, 2)])).toBe(1);
    expect(voteCopyToWrite([bad('crc-mismatch'), ok(1, 2)])).toBe(0);
    expect(voteCopyToWrite([ok(1, 2), bad('crc-mismatch')])).toBe(1);
  });

  it('a writer that moves on only after an acknowledged write never loses its last durable record to tears', () => {
    // Model: every write may fail; a failed write leaves its copy torn, stored or untouched.
    let rng = 12345;
    const random = () => ((rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const copies: SlotRead<VotePayload>[] = [bad('empty'), bad('empty')];
    let target = voteCopyToWrite(copies);
    let durable: number | null = null; // sequence of the last acknowledged write
    for (let sequence = 1; sequence <= 2000; sequence++) {
      const r = random();
      if (r < 0.6) {
        copies[target] = r < 0.3 ? bad('crc-mismatch') : r < 0.45 ? ok(1, sequence) : copies[target]!;
      } else {
        copies[target] = ok(1, sequence);
        durable = sequence;
        target = 1 - target;
      }
      const seen = chooseCopy(copies);
      if (durable !== null) {
        expect(seen.verdict).toBe('ok');
        expect(seen.record!.sequence).toBeGreaterThanOrEqual(durable);
      }
    }
  });

  it('works on decoded sectors: a pair with a torn copy B reads as copy A', () => {
    const header = buildHeader({ clusterUuid: UUID, clusterName: 'c', sectorSize: 512, hostSlots: 2, diskIndex: 1, diskCount: 1, createdAtMs: 0 });
    const pair = Buffer.alloc(1024);
    encodeVoteSlot({ hostId: 2, incarnation: 3, sequence: 8, payload: payload(8) }, UUID, 512).copy(pair, 0);
    const torn = encodeVoteSlot({ hostId: 2, incarnation: 3, sequence: 9, payload: payload(9) }, UUID, 512);
    torn[60]! ^= 0x01;
    torn.copy(pair, 512);
    const copies = decodeVotePair(pair, header, 2);
    expect(copies.map((c) => c.verdict)).toEqual(['ok', 'crc-mismatch']);
    expect(chooseCopy(copies).record!.sequence).toBe(8);
    expect(voteCopyToWrite(copies)).toBe(1);
  });
});
