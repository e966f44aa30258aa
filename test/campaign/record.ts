// One data-LUN record per sector, written by the demo database while primary (docs/campaign.md):
//   0  magic "YCSREC01" (8)   8  epoch u64   16 host u32   20 pid u32
//   24 seq u64 (per db process)   32 wall-clock ms f64 (taken just before the write is issued)
//   40 lba u64 (where it was meant to land)   48 CRC32C of bytes 0..48 (u32)
// The rest of the sector is zero. A sector without the magic is empty; one whose CRC or
// LBA does not match is torn or misplaced, and the checker reports it.
import { crc32c } from '../../src/disk/crc32c.js';

export const RECORD_MAGIC = Buffer.from('YCSREC01', 'latin1');
const CRC_OFFSET = 48;

export interface DataRecord {
  epoch: number;
  host: number;
  pid: number;
  seq: number;
  wallMs: number;
  lba: number;
}

export type DecodedSector = { kind: 'empty' } | { kind: 'bad'; why: string } | { kind: 'record'; record: DataRecord };

export function encodeRecord(r: DataRecord, sectorSize = 512): Buffer {
  const b = Buffer.alloc(sectorSize);
  RECORD_MAGIC.copy(b, 0);
  b.writeBigUInt64BE(BigInt(r.epoch), 8);
  b.writeUInt32BE(r.host, 16);
  b.writeUInt32BE(r.pid, 20);
  b.writeBigUInt64BE(BigInt(r.seq), 24);
  b.writeDoubleBE(r.wallMs, 32);
  b.writeBigUInt64BE(BigInt(r.lba), 40);
  b.writeUInt32BE(crc32c(b, 0, 0, CRC_OFFSET), CRC_OFFSET);
  return b;
}

export function decodeSector(b: Uint8Array, lba: number): DecodedSector {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (!buf.subarray(0, 8).equals(RECORD_MAGIC)) return { kind: 'empty' };
  if (buf.readUInt32BE(CRC_OFFSET) !== crc32c(buf, 0, 0, CRC_OFFSET)) return { kind: 'bad', why: `LBA ${lba}: CRC mismatch (torn or corrupt record)` };
  const record: DataRecord = {
    epoch: Number(buf.readBigUInt64BE(8)),
    host: buf.readUInt32BE(16),
    pid: buf.readUInt32BE(20),
    seq: Number(buf.readBigUInt64BE(24)),
    wallMs: buf.readDoubleBE(32),
    lba: Number(buf.readBigUInt64BE(40)),
  };
  if (record.lba !== lba) return { kind: 'bad', why: `LBA ${lba}: record says LBA ${record.lba} (misplaced write)` };
  return { kind: 'record', record };
}
