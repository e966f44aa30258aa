// Constants and byte-level primitives of voting-disk layout v1 (docs/disk-layout.md):
// shared by the header codec (layout.ts) and the slot codecs (slots.ts). Pure.
import type { ResourceState, Role } from '../core/types.js';
import { YcsError } from '../errors.js';
import { crc32c } from './crc32c.js';

export const LAYOUT_VERSION = 1;
/** A record lives in the first 512 bytes of its sector: atomic on 512 B and 4 KiB devices. */
export const RECORD_BYTES = 512;
export const CRC_OFFSET = 508;
export const MAX_HOST_SLOTS = 255;
export const MAX_RESOURCES = 16;
export const MAX_CLUSTER_NAME_BYTES = 63;
/**
 * Each host owns two vote sectors per disk (copies A and B, adjacent) and writes them
 * alternately, never over the copy holding its last durable record: a write torn by a
 * failing device can only destroy the copy being written (voting-disk.ts picks the copy).
 */
export const VOTE_COPIES = 2;

export const HEADER_MAGIC = Buffer.from('YCSVDISK', 'ascii');
export const HEARTBEAT_MAGIC = Buffer.from('YCHB', 'ascii');
export const VOTE_MAGIC = Buffer.from('YCVT', 'ascii');
export const SLOT_PAYLOAD_OFFSET = 44;
export const MAX_SLOT_PAYLOAD_BYTES = CRC_OFFSET - SLOT_PAYLOAD_OFFSET; // 464

export const ROLES: readonly Role[] = ['starting', 'standby', 'master', 'evicted', 'leaving'];
export const RESOURCE_STATES: readonly ResourceState[] = ['unknown', 'offline', 'starting', 'standby', 'primary', 'failed'];


export function invalid(message: string): never {
  throw new YcsError('E_INVALID_ARGUMENT', message);
}

export function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    invalid(`${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function uuidToBytes(uuid: string): Buffer {
  const lower = uuid.toLowerCase();
  if (!UUID_PATTERN.test(lower)) invalid(`cluster UUID must look like 01234567-89ab-cdef-0123-456789abcdef, got '${uuid}'`);
  const bytes = Buffer.from(lower.replace(/-/g, ''), 'hex');
  if (bytes.every((b) => b === 0)) invalid('cluster UUID must not be the nil UUID');
  return bytes;
}

export function bytesToUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Returns why a cluster name is unacceptable, or undefined when it is fine. */
export function clusterNameProblem(name: string): string | undefined {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0) return 'cluster name must not be empty';
  if (bytes > MAX_CLUSTER_NAME_BYTES) return `cluster name is ${bytes} bytes of UTF-8, at most ${MAX_CLUSTER_NAME_BYTES} allowed`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'cluster name must not contain control characters';
  if (name.trim() !== name) return 'cluster name must not start or end with white space';
  return undefined;
}

export function isSupportedSectorSize(size: number): boolean {
  return Number.isInteger(size) && size >= 512 && size <= 4096 && (size & (size - 1)) === 0;
}


export function writeU64(buf: Buffer, offset: number, name: string, value: number): void {
  checkInt(name, value, 0, Number.MAX_SAFE_INTEGER);
  buf.writeBigUInt64LE(BigInt(value), offset);
}

/** Reads a u64; undefined when above Number.MAX_SAFE_INTEGER (the record is corrupt). */
export function readU64(buf: Buffer, offset: number): number | undefined {
  const value = buf.readBigUInt64LE(offset);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(value);
}

export const BITMAP_BYTES = 32; // bit h (LSB first within byte h >> 3) = host h; bit 0 unused

export function writeHostBitmap(buf: Buffer, offset: number, name: string, hosts: readonly number[]): void {
  for (const host of hosts) {
    checkInt(`${name} host id`, host, 1, MAX_HOST_SLOTS);
    buf[offset + (host >> 3)]! |= 1 << (host & 7);
  }
}

/** Sorted host ids; undefined when the unused bit 0 is set (corrupt). */
export function readHostBitmap(buf: Buffer, offset: number): number[] | undefined {
  if ((buf[offset]! & 1) !== 0) return undefined;
  const hosts: number[] = [];
  for (let host = 1; host <= MAX_HOST_SLOTS; host++) {
    if ((buf[offset + (host >> 3)]! >> (host & 7)) & 1) hosts.push(host);
  }
  return hosts;
}

const ZEROS = new Uint8Array(4096);

/** Compares against zeros with memcmp (Buffer.compare): reads of 255 x 4 KiB slots stay cheap. */
export function isZero(buf: Uint8Array, start = 0, end = buf.length): boolean {
  for (let at = start; at < end; at += ZEROS.length) {
    const length = Math.min(ZEROS.length, end - at);
    if (Buffer.compare(buf.subarray(at, at + length), ZEROS.subarray(0, length)) !== 0) return false;
  }
  return true;
}

export function sealRecord(record: Buffer): void {
  record.writeUInt32LE(crc32c(record, 0, 0, CRC_OFFSET), CRC_OFFSET);
}

export function crcMatches(record: Buffer): boolean {
  return crc32c(record, 0, 0, CRC_OFFSET) === record.readUInt32LE(CRC_OFFSET);
}
