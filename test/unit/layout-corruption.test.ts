// Every way a sector can be wrong must yield a non-'ok' verdict (slots) or a specific
// error (header): invariant 5, "a corrupt, torn, foreign or stale sector is never trusted".
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HeartbeatPayload, SlotRecord, VotePayload } from '../../src/core/types.js';
import { YcsError } from '../../src/errors.js';
import { crc32c } from '../../src/disk/crc32c.js';
import {
  buildHeader, decodeHeader, decodeHeartbeatSlot, decodeVoteSlot, encodeHeader, encodeHeartbeatSlot, encodeVoteSlot,
} from '../../src/disk/layout.js';

const UUID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const OTHER_UUID = 'ffffffff-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const expectHost4 = { clusterUuid: UUID, hostId: 4 };

const hbRecord = (sequence: number): SlotRecord<HeartbeatPayload> => ({
  hostId: 4, incarnation: 3, sequence,
  payload: { role: 'standby', epoch: 12, masterId: 1, heard: [1, 2, 4], resources: [{ state: 'standby' }], flags: 0 },
});
const voteRecord: SlotRecord<VotePayload> = {
  hostId: 4, incarnation: 3, sequence: 8,
  payload: { instance: 13, mbal: 260, bal: 260, value: { epoch: 13, masterId: 4, members: [1, 4] }, decided: null },
};

/** Recomputes the CRC so a test can build records that are well sealed but wrong inside. */
function reseal(sector: Buffer): Buffer {
  sector.writeUInt32LE(crc32c(sector, 0, 0, 508), 508);
  return sector;
}

function headerError(sector: Buffer): string {
  try {
    decodeHeader(sector);
  } catch (err) {
    expect(err).toBeInstanceOf(YcsError);
    return (err as YcsError).code;
  }
  return 'decoded';
}

describe.each([512, 4096])('slot verdicts with %i-byte sectors', (sectorSize) => {
  const good = () => encodeHeartbeatSlot(hbRecord(10), UUID, sectorSize);

  it('a flipped byte anywhere in the record is never trusted', () => {
    for (let i = 0; i < 512; i++) {
      const sector = good();
      sector[i]! ^= 0x5a;
      expect(decodeHeartbeatSlot(sector, expectHost4).verdict, `byte ${i}`).toBe(i < 4 ? 'corrupt' : 'crc-mismatch');
    }
    const vote = encodeVoteSlot(voteRecord, UUID, sectorSize);
    for (let i = 4; i < 512; i++) {
      const sector = Buffer.from(vote);
      sector[i]! ^= 0x01;
      expect(decodeVoteSlot(sector, expectHost4).verdict, `vote byte ${i}`).toBe('crc-mismatch');
    }
  });

  it('a zero sector is empty, garbage is corrupt, a bit outside the record is corrupt', () => {
    expect(decodeHeartbeatSlot(Buffer.alloc(sectorSize), expectHost4)).toEqual({ hostId: 4, verdict: 'empty' });
    for (let n = 0; n < 50; n++) {
      expect(decodeHeartbeatSlot(randomBytes(sectorSize), expectHost4).verdict).toBe('corrupt');
    }
    const garbageWithMagic = randomBytes(sectorSize);
    garbageWithMagic.write('YCHB', 0, 'ascii');
    expect(decodeHeartbeatSlot(garbageWithMagic, expectHost4).verdict).toBe('crc-mismatch');
    const tail = good();
    tail[sectorSize - 1] = 1; // past byte 511 on 4 KiB, inside the CRC on 512
    expect(decodeHeartbeatSlot(tail, expectHost4).verdict).toBe(sectorSize > 512 ? 'corrupt' : 'crc-mismatch');
    const zeroRecordDirtyTail = Buffer.alloc(sectorSize);
    zeroRecordDirtyTail[sectorSize - 1] = 1;
    expect(decodeHeartbeatSlot(zeroRecordDirtyTail, expectHost4).verdict).toBe('corrupt');
  });

  it('a torn write (half new, half old) is a CRC mismatch', () => {
    const oldSector = encodeHeartbeatSlot(hbRecord(10), UUID, sectorSize);
    const newSector = encodeHeartbeatSlot(hbRecord(11), UUID, sectorSize);
    for (const cut of [64, 256, 384, 508]) {
      const torn = Buffer.concat([newSector.subarray(0, cut), oldSector.subarray(cut)]);
      expect(decodeHeartbeatSlot(torn, expectHost4).verdict, `cut at ${cut}`).toBe('crc-mismatch');
    }
  });

  it('reports foreign, misplaced, future-version and wrong-kind records', () => {
    expect(decodeHeartbeatSlot(encodeHeartbeatSlot(hbRecord(1), OTHER_UUID, sectorSize), expectHost4).verdict).toBe('foreign');
    expect(decodeHeartbeatSlot(good(), { clusterUuid: UUID, hostId: 5 }).verdict).toBe('misplaced');
    const future = good();
    future.writeUInt16LE(2, 4);
    expect(decodeHeartbeatSlot(reseal(future), expectHost4).verdict).toBe('future-version');
    const zeroVersion = good();
    zeroVersion.writeUInt16LE(0, 4);
    expect(decodeHeartbeatSlot(reseal(zeroVersion), expectHost4).verdict).toBe('corrupt');
    expect(decodeVoteSlot(good(), expectHost4).verdict).toBe('corrupt'); // a heartbeat in the vote area
    expect(decodeHeartbeatSlot(encodeVoteSlot(voteRecord, UUID, sectorSize), expectHost4).verdict).toBe('corrupt');
  });

  it('well-sealed records with impossible contents are corrupt', () => {
    const mutations: Array<[string, (s: Buffer) => void]> = [
      ['incarnation above 2^53-1', (s) => s.writeBigUInt64LE(2n ** 53n, 24)],
      ['sequence all ones', (s) => s.writeBigUInt64LE(2n ** 64n - 1n, 32)],
      ['payload length past the CRC', (s) => s.writeUInt16LE(465, 40)],
      ['payload length cuts the resources', (s) => s.writeUInt16LE(48, 40)],
      ['reserved u16', (s) => s.writeUInt16LE(1, 42)],
      ['unknown role', (s) => s.writeUInt8(9, 44)],
      ['reserved payload byte', (s) => s.writeUInt8(1, 47)],
      ['epoch above 2^53-1', (s) => s.writeBigUInt64LE(2n ** 60n, 52)],
      ['heard bitmap bit 0', (s) => s.writeUInt8(1, 60)],
      ['resource count over 16', (s) => s.writeUInt8(17, 46)],
      ['unknown resource state', (s) => s.writeUInt8(6, 92)],
      ['bytes after the payload', (s) => s.writeUInt8(1, 400)],
    ];
    for (const [name, mutate] of mutations) {
      const sector = good();
      mutate(sector);
      expect(decodeHeartbeatSlot(reseal(sector), expectHost4).verdict, name).toBe('corrupt');
    }
    const voteMutations: Array<[string, (s: Buffer) => void]> = [
      ['unknown presence bit', (s) => s.writeUInt8(4, 44)],
      ['absent decision with bytes', (s) => s.writeUInt8(1, 44 + 80)],
      ['mbal above 2^53-1', (s) => s.writeBigUInt64LE(2n ** 63n, 44 + 16)],
      ['decision padding', (s) => s.writeUInt8(1, 44 + 32 + 9)],
      ['vote payload length', (s) => s.writeUInt16LE(127, 40)],
    ];
    for (const [name, mutate] of voteMutations) {
      const sector = encodeVoteSlot(voteRecord, UUID, sectorSize);
      mutate(sector);
      expect(decodeVoteSlot(reseal(sector), expectHost4).verdict, name).toBe('corrupt');
    }
  });

  it('a short buffer is corrupt, not an exception', () => {
    expect(decodeHeartbeatSlot(good().subarray(0, 100), expectHost4).verdict).toBe('corrupt');
  });
});

describe.each([512, 4096])('header errors with %i-byte sectors', (sectorSize) => {
  const header = buildHeader({ clusterUuid: UUID, clusterName: 'c', sectorSize, hostSlots: 4, diskIndex: 1, diskCount: 1, createdAtMs: 5 });
  const good = () => encodeHeader(header);

  it('all zero is E_NOT_INITIALIZED, any flipped byte is E_CORRUPT', () => {
    expect(headerError(Buffer.alloc(sectorSize))).toBe('E_NOT_INITIALIZED');
    for (let i = 0; i < sectorSize; i++) {
      const sector = good();
      sector[i]! ^= 0x80;
      expect(headerError(sector), `byte ${i}`).toBe('E_CORRUPT');
    }
    expect(headerError(randomBytes(sectorSize))).toBe('E_CORRUPT');
    expect(headerError(good().subarray(0, 511))).toBe('E_CORRUPT');
  });

  it('a newer version is E_UNSUPPORTED_VERSION; sealed nonsense is E_CORRUPT', () => {
    const future = good();
    future.writeUInt16LE(2, 8);
    expect(headerError(reseal(future))).toBe('E_UNSUPPORTED_VERSION');
    const mutations: Array<[string, (s: Buffer) => void]> = [
      ['version 0', (s) => s.writeUInt16LE(0, 8)],
      ['sector size 1000', (s) => s.writeUInt32LE(1000, 12)],
      ['nil uuid', (s) => s.fill(0, 16, 32)],
      ['name without NUL', (s) => s.fill(0x41, 32, 96)],
      ['name with bytes after NUL', (s) => s.writeUInt8(0x41, 90)],
      ['name not UTF-8', (s) => s.writeUInt8(0xff, 32)],
      ['empty name', (s) => s.writeUInt8(0, 32)],
      ['0 host slots', (s) => s.writeUInt16LE(0, 96)],
      ['disk count 2', (s) => s.writeUInt8(2, 99)],
      ['disk index 0', (s) => s.writeUInt8(0, 98)],
      ['reserved', (s) => s.writeUInt8(1, 101)],
      ['heartbeat area offset', (s) => s.writeBigUInt64LE(4096n, 104)],
      ['vote area overlaps', (s) => s.writeBigUInt64LE(1048576n, 112)],
      ['area size', (s) => s.writeBigUInt64LE(1n, 120)],
      ['creation time above 2^53-1', (s) => s.writeBigUInt64LE(2n ** 64n - 1n, 128)],
      ['reserved tail', (s) => s.writeUInt8(1, 300)],
    ];
    for (const [name, mutate] of mutations) {
      const sector = good();
      mutate(sector);
      expect(headerError(reseal(sector)), name).toBe('E_CORRUPT');
    }
  });
});
