import { describe, expect, it } from 'vitest';
import type { HeartbeatPayload, SlotRecord, VotePayload } from '../../src/core/types.js';
import { YcsError } from '../../src/errors.js';
import {
  buildHeader, decodeHeader, decodeHeartbeatArea, decodeHeartbeatSlot, decodeVoteArea, decodeVoteAreaCopies, decodeVoteSlot,
  encodeHeader, encodeHeartbeatSlot, encodeVoteSlot, planLayout, slotOffset, LAYOUT_SPAN_BYTES, RECORD_BYTES,
} from '../../src/disk/layout.js';
import { crc32c } from '../../src/disk/crc32c.js';

const UUID = '6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e8';

function sampleHeader(sectorSize: number, hostSlots = 8) {
  return buildHeader({ clusterUuid: UUID, clusterName: 'prod-db', sectorSize, hostSlots, diskIndex: 2, diskCount: 3, createdAtMs: 1_763_700_000_000 });
}

const heartbeat: SlotRecord<HeartbeatPayload> = {
  hostId: 3,
  incarnation: 7,
  sequence: Number.MAX_SAFE_INTEGER,
  payload: {
    role: 'master', epoch: 42, masterId: 3, heard: [1, 2, 7, 8, 64, 255],
    resources: [{ state: 'primary' }, { state: 'standby' }, { state: 'failed' }], flags: 0xdeadbeef,
  },
};

const vote: SlotRecord<VotePayload> = {
  hostId: 5,
  incarnation: 1,
  sequence: 99,
  payload: {
    instance: 43, mbal: 3 * 256 + 5, bal: 2 * 256 + 1,
    value: { epoch: 43, masterId: 1, members: [1, 2, 5] },
    decided: { epoch: 42, masterId: 3, members: [1, 2, 3, 5] },
  },
};

function expectError(fn: () => unknown, code: string): YcsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(YcsError);
    expect((err as YcsError).code).toBe(code);
    return err as YcsError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe.each([512, 4096])('layout v1 with %i-byte sectors', (sectorSize) => {
  it('round-trips the header and pins its byte positions', () => {
    const header = sampleHeader(sectorSize);
    const sector = encodeHeader(header);
    expect(sector.length).toBe(sectorSize);
    expect(sector.subarray(0, 8).toString('ascii')).toBe('YCSVDISK');
    expect(sector.readUInt16LE(8)).toBe(1);
    expect(sector.readUInt32LE(12)).toBe(sectorSize);
    expect(sector.subarray(16, 32).toString('hex')).toBe(UUID.replace(/-/g, ''));
    expect(sector.subarray(32, 39).toString('utf8')).toBe('prod-db');
    expect(sector.readUInt16LE(96)).toBe(8);
    expect([sector[98], sector[99]]).toEqual([2, 3]);
    expect(sector.readBigUInt64LE(104)).toBe(1048576n);
    expect(sector.readBigUInt64LE(112)).toBe(2097152n);
    expect(sector.readBigUInt64LE(120)).toBe(BigInt(8 * sectorSize)); // heartbeat area: 1 sector per host
    expect(sector.readBigUInt64LE(136)).toBe(BigInt(2 * 8 * sectorSize)); // vote area: copies A and B per host
    expect(sector.readUInt32LE(508)).toBe(crc32c(sector.subarray(0, 508)));
    expect(sector.subarray(RECORD_BYTES).every((b) => b === 0)).toBe(true);
    expect(decodeHeader(sector)).toEqual(header);
  });

  it('refuses, loudly, a header from before the vote copies (vote area size 0 at byte 136)', () => {
    const sector = encodeHeader(sampleHeader(sectorSize));
    sector.writeBigUInt64LE(0n, 136);
    sector.writeUInt32LE(crc32c(sector.subarray(0, 508)), 508);
    const err = expectError(() => decodeHeader(sector), 'E_CORRUPT');
    expect(err.message).toContain('ycsctl disk init --force');
  });

  it('round-trips heartbeat and vote records', () => {
    const hb = encodeHeartbeatSlot(heartbeat, UUID, sectorSize);
    expect(hb.length).toBe(sectorSize);
    expect(hb.subarray(0, 4).toString('ascii')).toBe('YCHB');
    expect(hb.readUInt16LE(6)).toBe(3);
    expect(hb.readBigUInt64LE(32)).toBe(BigInt(Number.MAX_SAFE_INTEGER));
    expect(decodeHeartbeatSlot(hb, { clusterUuid: UUID, hostId: 3 })).toEqual({ hostId: 3, verdict: 'ok', record: heartbeat });

    const vt = encodeVoteSlot(vote, UUID, sectorSize);
    expect(vt.subarray(0, 4).toString('ascii')).toBe('YCVT');
    expect(decodeVoteSlot(vt, { clusterUuid: UUID, hostId: 5 })).toEqual({ hostId: 5, verdict: 'ok', record: vote });
  });

  it('round-trips empty payload variants (no heard hosts, no resources, null decisions)', () => {
    const quietHb: SlotRecord<HeartbeatPayload> = {
      hostId: 1, incarnation: 0, sequence: 0,
      payload: { role: 'starting', epoch: 0, masterId: 0, heard: [], resources: [], flags: 0 },
    };
    const blankVote: SlotRecord<VotePayload> = {
      hostId: 1, incarnation: 1, sequence: 1, payload: { instance: 0, mbal: 0, bal: 0, value: null, decided: null },
    };
    expect(decodeHeartbeatSlot(encodeHeartbeatSlot(quietHb, UUID, sectorSize), { clusterUuid: UUID, hostId: 1 }).record).toEqual(quietHb);
    expect(decodeVoteSlot(encodeVoteSlot(blankVote, UUID, sectorSize), { clusterUuid: UUID, hostId: 1 }).record).toEqual(blankVote);
  });

  it('decodes a whole area with one verdict per host', () => {
    const header = sampleHeader(sectorSize, 6);
    const hbArea = Buffer.alloc(header.heartbeatAreaSizeBytes);
    encodeHeartbeatSlot(heartbeat, UUID, sectorSize).copy(hbArea, 2 * sectorSize);
    const reads = decodeHeartbeatArea(hbArea, header);
    expect(reads.map((r) => r.verdict)).toEqual(['empty', 'empty', 'ok', 'empty', 'empty', 'empty']);
    expect(reads[2]!.record).toEqual(heartbeat);

    const voteArea = Buffer.alloc(header.voteAreaSizeBytes);
    encodeVoteSlot(vote, UUID, sectorSize).copy(voteArea, (2 * 4 + 1) * sectorSize); // host 5, copy B
    encodeVoteSlot(vote, UUID, sectorSize).copy(voteArea, 0); // host 5's record in host 1's copy A
    expect(decodeVoteArea(voteArea, header).map((r) => r.verdict)).toEqual(['misplaced', 'empty', 'empty', 'empty', 'ok', 'empty']);
    expect(decodeVoteAreaCopies(voteArea, header)[4]!.map((r) => r.verdict)).toEqual(['empty', 'ok']);
  });

  it('places slots contiguously after 1 MiB (vote copies A, B adjacent) and computes the minimum device size', () => {
    const header = sampleHeader(sectorSize, 255);
    expect(slotOffset(header, 'heartbeat', 1)).toBe(1048576);
    expect(slotOffset(header, 'heartbeat', 255)).toBe(1048576 + 254 * sectorSize);
    expect(slotOffset(header, 'vote', 1)).toBe(2097152);
    expect(slotOffset(header, 'vote', 1, 1)).toBe(2097152 + sectorSize);
    expect(slotOffset(header, 'vote', 2)).toBe(2097152 + 2 * sectorSize);
    expect(slotOffset(header, 'vote', 255, 1)).toBe(2097152 + 509 * sectorSize);
    expect(planLayout(sectorSize, 255).minDeviceBytes).toBe(2097152 + 2 * 255 * sectorSize);
    expect(planLayout(sectorSize, 1).minDeviceBytes).toBe(2097152 + 2 * sectorSize);
    expect(planLayout(sectorSize, 255).minDeviceBytes).toBeLessThanOrEqual(LAYOUT_SPAN_BYTES);
    expectError(() => slotOffset(header, 'vote', 0), 'E_INVALID_ARGUMENT');
    expectError(() => slotOffset(header, 'vote', 1, 2), 'E_INVALID_ARGUMENT');
    expectError(() => slotOffset(header, 'heartbeat', 1, 1), 'E_INVALID_ARGUMENT');
  });
});

describe('layout v1 encoders refuse bad input', () => {
  const base = { clusterUuid: UUID, clusterName: 'c1', sectorSize: 512, hostSlots: 3, diskIndex: 1, diskCount: 1, createdAtMs: 0 };

  it('refuses bad header parameters', () => {
    for (const bad of [
      { hostSlots: 0 }, { hostSlots: 256 }, { diskCount: 2 }, { diskIndex: 0 }, { diskIndex: 4, diskCount: 3 },
      { sectorSize: 1000 }, { sectorSize: 8192 }, { clusterName: '' }, { clusterName: 'x'.repeat(64) },
      { clusterName: 'a\nb' }, { clusterName: ' pad' }, { clusterUuid: 'not-a-uuid' },
      { clusterUuid: '00000000-0000-0000-0000-000000000000' }, { createdAtMs: -1 },
    ]) {
      expectError(() => buildHeader({ ...base, ...bad }), 'E_INVALID_ARGUMENT');
    }
    // 63 bytes of UTF-8 (21 three-byte characters) is the longest name that fits.
    expect(decodeHeader(encodeHeader(buildHeader({ ...base, clusterName: '集'.repeat(21) }))).clusterName).toBe('集'.repeat(21));
    expectError(() => buildHeader({ ...base, clusterName: '集'.repeat(22) }), 'E_INVALID_ARGUMENT');
  });

  it('refuses out-of-range record fields instead of writing them', () => {
    const p = heartbeat.payload;
    const cases: Array<SlotRecord<HeartbeatPayload>> = [
      { ...heartbeat, hostId: 0 },
      { ...heartbeat, hostId: 256 },
      { ...heartbeat, sequence: -1 },
      { ...heartbeat, incarnation: 2 ** 53 },
      { ...heartbeat, sequence: 1.5 },
      { ...heartbeat, payload: { ...p, epoch: Number.MAX_SAFE_INTEGER + 2 } },
      { ...heartbeat, payload: { ...p, masterId: 256 } },
      { ...heartbeat, payload: { ...p, heard: [0] } },
      { ...heartbeat, payload: { ...p, role: 'boss' as never } },
      { ...heartbeat, payload: { ...p, resources: Array.from({ length: 17 }, () => ({ state: 'offline' as const })) } },
      { ...heartbeat, payload: { ...p, resources: [{ state: 'weird' as never }] } },
    ];
    for (const record of cases) expectError(() => encodeHeartbeatSlot(record, UUID, 512), 'E_INVALID_ARGUMENT');
    const badVote = { ...vote, payload: { ...vote.payload, value: { epoch: 1, masterId: 1, members: [300] } } };
    expectError(() => encodeVoteSlot(badVote, UUID, 512), 'E_INVALID_ARGUMENT');
  });
});
