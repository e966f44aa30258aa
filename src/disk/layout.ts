// The ONE codec for the voting disk's on-disk format, layout v1 (byte tables in
// docs/disk-layout.md; change both together). Pure: no I/O, no clock, no randomness.
//
// Encoders validate their input and throw YcsError('E_INVALID_ARGUMENT'): a bad record
// must never reach the disk. Slot decoders never throw: every slot gets a verdict and only
// 'ok' slots carry a record, so garbage on a shared disk can never crash or mislead a host.
// The header decoder throws (E_NOT_INITIALIZED, E_CORRUPT, E_UNSUPPORTED_VERSION): without
// a valid header nothing else on the disk can be located.
//
// Invariant kept by every future layout version, so that a v1 reader can tell "newer
// format" from "damaged": magic at byte 0, version (u16 LE) right after it, and the CRC32C
// of bytes [0, 508) stored at byte 508 of the 512-byte record.
import { assert } from '../core/assert.js';
import { YcsError } from '../errors.js';
import {
  CRC_OFFSET, HEADER_MAGIC, LAYOUT_VERSION, MAX_CLUSTER_NAME_BYTES, MAX_HOST_SLOTS, RECORD_BYTES, VOTE_COPIES,
  checkInt, clusterNameProblem, crcMatches, invalid, isSupportedSectorSize, isZero, readU64, sealRecord, uuidToBytes, bytesToUuid, writeU64,
} from './format.js';

// The constants, primitives and slot codecs live beside this file; this module stays the
// one place callers import the format from.
export {
  LAYOUT_VERSION, RECORD_BYTES, MAX_HOST_SLOTS, MAX_RESOURCES, MAX_CLUSTER_NAME_BYTES, VOTE_COPIES, MAX_SLOT_PAYLOAD_BYTES,
  uuidToBytes, bytesToUuid, clusterNameProblem,
} from './format.js';
export * from './slots.js';

export const VOTING_DISK_COUNTS: readonly number[] = [1, 3, 5];
const MIB = 1024 * 1024;
/** v1 areas start on 1 MiB boundaries: aligned for any sector size and any stripe. */
export const HEARTBEAT_AREA_OFFSET = 1 * MIB; // room for 255 x 4 KiB
export const VOTE_AREA_OFFSET = 2 * MIB; // room for 255 x 2 x 4 KiB
/** Every byte a v1 layout can ever use lies below this: what `wipe` zeroes. */
export const LAYOUT_SPAN_BYTES = 4 * MIB;

export type AreaKind = 'heartbeat' | 'vote';

export interface DiskHeader {
  version: number;
  flags: number;
  clusterUuid: string; // lowercase 8-4-4-4-12 hex
  clusterName: string;
  sectorSize: number;
  hostSlots: number; // host ids 1..hostSlots
  diskIndex: number; // 1..diskCount
  diskCount: number; // 1, 3 or 5
  heartbeatAreaOffset: number;
  voteAreaOffset: number;
  heartbeatAreaSizeBytes: number; // hostSlots * sectorSize
  voteAreaSizeBytes: number; // hostSlots * VOTE_COPIES * sectorSize
  createdAtMs: number; // unix ms, informational only (never compared across hosts)
}

export interface HeaderParams {
  clusterUuid: string;
  clusterName: string;
  sectorSize: number;
  hostSlots: number;
  diskIndex: number;
  diskCount: number;
  createdAtMs: number;
}

// ---------------------------------------------------------------- geometry

export interface LayoutPlan {
  heartbeatAreaOffset: number;
  voteAreaOffset: number;
  heartbeatAreaSizeBytes: number;
  voteAreaSizeBytes: number;
  /** Smallest device that holds this layout: the end of the vote area. */
  minDeviceBytes: number;
}

export function planLayout(sectorSize: number, hostSlots: number): LayoutPlan {
  if (!isSupportedSectorSize(sectorSize)) invalid(`sector size must be 512, 1024, 2048 or 4096, got ${sectorSize}`);
  checkInt('host slots', hostSlots, 1, MAX_HOST_SLOTS);
  const voteAreaSizeBytes = hostSlots * VOTE_COPIES * sectorSize;
  return {
    heartbeatAreaOffset: HEARTBEAT_AREA_OFFSET,
    voteAreaOffset: VOTE_AREA_OFFSET,
    heartbeatAreaSizeBytes: hostSlots * sectorSize,
    voteAreaSizeBytes,
    minDeviceBytes: VOTE_AREA_OFFSET + voteAreaSizeBytes,
  };
}

/** Sectors per host slot in an area: 1 heartbeat sector, VOTE_COPIES vote sectors. */
export function sectorsPerSlot(area: AreaKind): number {
  return area === 'heartbeat' ? 1 : VOTE_COPIES;
}

/** Byte offset of host `hostId`'s sector in an area; `copy` (0 = A, 1 = B) only in the vote area. */
export function slotOffset(header: DiskHeader, area: AreaKind, hostId: number, copy = 0): number {
  checkInt('host id', hostId, 1, header.hostSlots);
  checkInt('copy', copy, 0, sectorsPerSlot(area) - 1);
  const base = area === 'heartbeat' ? header.heartbeatAreaOffset : header.voteAreaOffset;
  return base + ((hostId - 1) * sectorsPerSlot(area) + copy) * header.sectorSize;
}

// ---------------------------------------------------------------- header

export function buildHeader(params: HeaderParams): DiskHeader {
  const plan = planLayout(params.sectorSize, params.hostSlots);
  const header: DiskHeader = {
    version: LAYOUT_VERSION,
    flags: 0,
    clusterUuid: params.clusterUuid.toLowerCase(),
    clusterName: params.clusterName,
    sectorSize: params.sectorSize,
    hostSlots: params.hostSlots,
    diskIndex: params.diskIndex,
    diskCount: params.diskCount,
    heartbeatAreaOffset: plan.heartbeatAreaOffset,
    voteAreaOffset: plan.voteAreaOffset,
    heartbeatAreaSizeBytes: plan.heartbeatAreaSizeBytes,
    voteAreaSizeBytes: plan.voteAreaSizeBytes,
    createdAtMs: params.createdAtMs,
  };
  validateHeader(header);
  return header;
}

function validateHeader(h: DiskHeader): void {
  const plan = planLayout(h.sectorSize, h.hostSlots);
  uuidToBytes(h.clusterUuid);
  const nameProblem = clusterNameProblem(h.clusterName);
  if (nameProblem !== undefined) invalid(nameProblem);
  if (!VOTING_DISK_COUNTS.includes(h.diskCount)) invalid(`disk count must be 1, 3 or 5, got ${h.diskCount}`);
  checkInt('disk index', h.diskIndex, 1, h.diskCount);
  checkInt('flags', h.flags, 0, 0xffff);
  checkInt('creation time', h.createdAtMs, 0, Number.MAX_SAFE_INTEGER);
  const sizesMatch = h.heartbeatAreaSizeBytes === plan.heartbeatAreaSizeBytes && h.voteAreaSizeBytes === plan.voteAreaSizeBytes;
  if (h.heartbeatAreaOffset !== plan.heartbeatAreaOffset || h.voteAreaOffset !== plan.voteAreaOffset || !sizesMatch) {
    invalid('area offsets and size do not match layout v1');
  }
}

/** One full header sector (sectorSize bytes, record in the first 512, rest zero). */
export function encodeHeader(header: DiskHeader): Buffer {
  validateHeader(header);
  const sector = Buffer.alloc(header.sectorSize);
  HEADER_MAGIC.copy(sector, 0);
  sector.writeUInt16LE(LAYOUT_VERSION, 8);
  sector.writeUInt16LE(header.flags, 10);
  sector.writeUInt32LE(header.sectorSize, 12);
  uuidToBytes(header.clusterUuid).copy(sector, 16);
  sector.write(header.clusterName, 32, MAX_CLUSTER_NAME_BYTES, 'utf8');
  sector.writeUInt16LE(header.hostSlots, 96);
  sector.writeUInt8(header.diskIndex, 98);
  sector.writeUInt8(header.diskCount, 99);
  writeU64(sector, 104, 'heartbeat area offset', header.heartbeatAreaOffset);
  writeU64(sector, 112, 'vote area offset', header.voteAreaOffset);
  writeU64(sector, 120, 'heartbeat area size', header.heartbeatAreaSizeBytes);
  writeU64(sector, 128, 'creation time', header.createdAtMs);
  writeU64(sector, 136, 'vote area size', header.voteAreaSizeBytes);
  sealRecord(sector);
  // Round trip (an assertion that stays on): the sector must decode to the header given.
  const back = decodeHeader(sector) as unknown as Record<string, unknown>;
  const given = header as unknown as Record<string, unknown>;
  const differs = Object.keys(given).filter((key) => back[key] !== given[key]);
  assert(differs.length === 0, () => `the encoded header decodes differently in ${differs.join(', ')}`);
  return sector;
}

function corruptHeader(why: string): YcsError {
  return new YcsError('E_CORRUPT', `voting disk header is corrupt: ${why}`);
}

/** Decodes a header sector (at least 512 bytes). Throws, never returns a doubtful header. */
export function decodeHeader(sector: Buffer): DiskHeader {
  if (sector.length < RECORD_BYTES) throw corruptHeader(`only ${sector.length} bytes read`);
  if (isZero(sector)) throw new YcsError('E_NOT_INITIALIZED', 'not a ycs voting disk: the header sector is all zero (run ycsctl disk init)');
  if (!sector.subarray(0, 8).equals(HEADER_MAGIC)) throw corruptHeader('no YCSVDISK magic, this is not a ycs voting disk or it was overwritten');
  if (!crcMatches(sector)) throw corruptHeader('CRC32C mismatch');
  const version = sector.readUInt16LE(8);
  if (version > LAYOUT_VERSION) {
    throw new YcsError('E_UNSUPPORTED_VERSION', `voting disk has layout version ${version}, this ycs reads version ${LAYOUT_VERSION}`);
  }
  if (version !== LAYOUT_VERSION) throw corruptHeader(`layout version ${version}`);
  if (!isZero(sector, 100, 104) || !isZero(sector, 144, CRC_OFFSET) || !isZero(sector, RECORD_BYTES)) {
    throw corruptHeader('reserved bytes are not zero');
  }
  const header = readHeaderFields(sector, version);
  if (header.voteAreaSizeBytes === 0) {
    throw corruptHeader('no vote area size: initialized by a pre-release ycs with one vote sector per host; run ycsctl disk init --force');
  }
  try {
    validateHeader(header);
  } catch (err) {
    throw corruptHeader(err instanceof Error ? err.message : String(err));
  }
  return header;
}

function readHeaderFields(sector: Buffer, version: number): DiskHeader {
  const nameField = sector.subarray(32, 96);
  const nul = nameField.indexOf(0);
  if (nul < 0 || !isZero(nameField, nul)) throw corruptHeader('cluster name is not NUL terminated and padded');
  let clusterName: string;
  try {
    clusterName = new TextDecoder('utf-8', { fatal: true }).decode(nameField.subarray(0, nul));
  } catch {
    throw corruptHeader('cluster name is not valid UTF-8');
  }
  const u64 = (offset: number, name: string): number => {
    const value = readU64(sector, offset);
    if (value === undefined) throw corruptHeader(`${name} exceeds 2^53-1`);
    return value;
  };
  return {
    version,
    flags: sector.readUInt16LE(10),
    clusterUuid: bytesToUuid(sector.subarray(16, 32)),
    clusterName,
    sectorSize: sector.readUInt32LE(12),
    hostSlots: sector.readUInt16LE(96),
    diskIndex: sector.readUInt8(98),
    diskCount: sector.readUInt8(99),
    heartbeatAreaOffset: u64(104, 'heartbeat area offset'),
    voteAreaOffset: u64(112, 'vote area offset'),
    heartbeatAreaSizeBytes: u64(120, 'heartbeat area size'),
    voteAreaSizeBytes: u64(136, 'vote area size'),
    createdAtMs: u64(128, 'creation time'),
  };
}

