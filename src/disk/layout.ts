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
import type { HeartbeatPayload, Role, ResourceState, SlotRead, SlotVerdict, VotePayload, Decision, SlotRecord } from '../core/types.js';
import { YcsError } from '../errors.js';
import { crc32c } from './crc32c.js';
import { chooseCopy } from './vote-copies.js';

export const LAYOUT_VERSION = 1;
/** A record lives in the first 512 bytes of its sector: atomic on 512 B and 4 KiB devices. */
export const RECORD_BYTES = 512;
const CRC_OFFSET = 508;
export const MAX_HOST_SLOTS = 255;
export const MAX_RESOURCES = 16;
export const MAX_CLUSTER_NAME_BYTES = 63;
export const VOTING_DISK_COUNTS: readonly number[] = [1, 3, 5];
const MIB = 1024 * 1024;
/** v1 areas start on 1 MiB boundaries: aligned for any sector size and any stripe. */
export const HEARTBEAT_AREA_OFFSET = 1 * MIB; // room for 255 x 4 KiB
export const VOTE_AREA_OFFSET = 2 * MIB; // room for 255 x 2 x 4 KiB
/**
 * Each host owns two vote sectors per disk (copies A and B, adjacent) and writes them
 * alternately, never over the copy holding its last durable record: a write torn by a
 * failing device can only destroy the copy being written (voting-disk.ts picks the copy).
 */
export const VOTE_COPIES = 2;
/** Every byte a v1 layout can ever use lies below this: what `wipe` zeroes. */
export const LAYOUT_SPAN_BYTES = 4 * MIB;

const HEADER_MAGIC = Buffer.from('YCSVDISK', 'ascii');
const HEARTBEAT_MAGIC = Buffer.from('YCHB', 'ascii');
const VOTE_MAGIC = Buffer.from('YCVT', 'ascii');
const SLOT_PAYLOAD_OFFSET = 44;
export const MAX_SLOT_PAYLOAD_BYTES = CRC_OFFSET - SLOT_PAYLOAD_OFFSET; // 464

const ROLES: readonly Role[] = ['starting', 'standby', 'master', 'evicted', 'leaving'];
const RESOURCE_STATES: readonly ResourceState[] = ['unknown', 'offline', 'starting', 'standby', 'primary', 'failed'];

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

// ---------------------------------------------------------------- validation helpers

function invalid(message: string): never {
  throw new YcsError('E_INVALID_ARGUMENT', message);
}

function checkInt(name: string, value: number, min: number, max: number): void {
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

function isSupportedSectorSize(size: number): boolean {
  return Number.isInteger(size) && size >= 512 && size <= 4096 && (size & (size - 1)) === 0;
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

// ---------------------------------------------------------------- u64 and bitmaps

function writeU64(buf: Buffer, offset: number, name: string, value: number): void {
  checkInt(name, value, 0, Number.MAX_SAFE_INTEGER);
  buf.writeBigUInt64LE(BigInt(value), offset);
}

/** Reads a u64; undefined when above Number.MAX_SAFE_INTEGER (the record is corrupt). */
function readU64(buf: Buffer, offset: number): number | undefined {
  const value = buf.readBigUInt64LE(offset);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(value);
}

const BITMAP_BYTES = 32; // bit h (LSB first within byte h >> 3) = host h; bit 0 unused

function writeHostBitmap(buf: Buffer, offset: number, name: string, hosts: readonly number[]): void {
  for (const host of hosts) {
    checkInt(`${name} host id`, host, 1, MAX_HOST_SLOTS);
    buf[offset + (host >> 3)]! |= 1 << (host & 7);
  }
}

/** Sorted host ids; undefined when the unused bit 0 is set (corrupt). */
function readHostBitmap(buf: Buffer, offset: number): number[] | undefined {
  if ((buf[offset]! & 1) !== 0) return undefined;
  const hosts: number[] = [];
  for (let host = 1; host <= MAX_HOST_SLOTS; host++) {
    if ((buf[offset + (host >> 3)]! >> (host & 7)) & 1) hosts.push(host);
  }
  return hosts;
}

const ZEROS = new Uint8Array(4096);

/** Compares against zeros with memcmp (Buffer.compare): reads of 255 x 4 KiB slots stay cheap. */
function isZero(buf: Uint8Array, start = 0, end = buf.length): boolean {
  for (let at = start; at < end; at += ZEROS.length) {
    const length = Math.min(ZEROS.length, end - at);
    if (Buffer.compare(buf.subarray(at, at + length), ZEROS.subarray(0, length)) !== 0) return false;
  }
  return true;
}

function sealRecord(record: Buffer): void {
  record.writeUInt32LE(crc32c(record, 0, 0, CRC_OFFSET), CRC_OFFSET);
}

function crcMatches(record: Buffer): boolean {
  return crc32c(record, 0, 0, CRC_OFFSET) === record.readUInt32LE(CRC_OFFSET);
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

// ---------------------------------------------------------------- heartbeat payload

function encodeHeartbeatPayload(p: HeartbeatPayload): Buffer {
  const role = ROLES.indexOf(p.role);
  if (role < 0) invalid(`unknown role '${String(p.role)}'`);
  checkInt('master id', p.masterId, 0, MAX_HOST_SLOTS);
  checkInt('flags', p.flags, 0, 0xffffffff);
  if (p.resources.length > MAX_RESOURCES) invalid(`at most ${MAX_RESOURCES} resources, got ${p.resources.length}`);
  const out = Buffer.alloc(48 + p.resources.length);
  out.writeUInt8(role, 0);
  out.writeUInt8(p.masterId, 1);
  out.writeUInt8(p.resources.length, 2);
  out.writeUInt32LE(p.flags, 4);
  writeU64(out, 8, 'epoch', p.epoch);
  writeHostBitmap(out, 16, 'heard', p.heard);
  p.resources.forEach((resource, i) => {
    const state = RESOURCE_STATES.indexOf(resource.state);
    if (state < 0) invalid(`unknown resource state '${String(resource.state)}'`);
    out.writeUInt8(state, 48 + i);
  });
  return out;
}

function decodeHeartbeatPayload(b: Buffer): HeartbeatPayload | undefined {
  if (b.length < 48) return undefined;
  const role = ROLES[b.readUInt8(0)];
  const count = b.readUInt8(2);
  const epoch = readU64(b, 8);
  const heard = readHostBitmap(b, 16);
  if (role === undefined || count > MAX_RESOURCES || b.length !== 48 + count || b[3] !== 0) return undefined;
  if (epoch === undefined || heard === undefined) return undefined;
  const resources: Array<{ state: ResourceState }> = [];
  for (let i = 0; i < count; i++) {
    const state = RESOURCE_STATES[b.readUInt8(48 + i)];
    if (state === undefined) return undefined;
    resources.push({ state });
  }
  return { role, epoch, masterId: b.readUInt8(1), heard, resources, flags: b.readUInt32LE(4) };
}

// ---------------------------------------------------------------- vote payload

const VOTE_PAYLOAD_BYTES = 128;
const HAS_VALUE = 1;
const HAS_DECIDED = 2;

function writeDecision(out: Buffer, offset: number, name: string, d: Decision): void {
  writeU64(out, offset, `${name} epoch`, d.epoch);
  checkInt(`${name} master id`, d.masterId, 0, MAX_HOST_SLOTS);
  out.writeUInt8(d.masterId, offset + 8);
  writeHostBitmap(out, offset + 16, `${name} members`, d.members);
}

function readDecision(b: Buffer, offset: number): Decision | undefined {
  const epoch = readU64(b, offset);
  const members = readHostBitmap(b, offset + 16);
  if (epoch === undefined || members === undefined || !isZero(b, offset + 9, offset + 16)) return undefined;
  return { epoch, masterId: b.readUInt8(offset + 8), members };
}

function encodeVotePayload(p: VotePayload): Buffer {
  const out = Buffer.alloc(VOTE_PAYLOAD_BYTES);
  out.writeUInt8((p.value ? HAS_VALUE : 0) | (p.decided ? HAS_DECIDED : 0), 0);
  writeU64(out, 8, 'instance', p.instance);
  writeU64(out, 16, 'mbal', p.mbal);
  writeU64(out, 24, 'bal', p.bal);
  if (p.value) writeDecision(out, 32, 'value', p.value);
  if (p.decided) writeDecision(out, 80, 'decided', p.decided);
  return out;
}

function decodeVotePayload(b: Buffer): VotePayload | undefined {
  if (b.length !== VOTE_PAYLOAD_BYTES) return undefined;
  const present = b.readUInt8(0);
  if ((present & ~(HAS_VALUE | HAS_DECIDED)) !== 0 || !isZero(b, 1, 8)) return undefined;
  const instance = readU64(b, 8);
  const mbal = readU64(b, 16);
  const bal = readU64(b, 24);
  if (instance === undefined || mbal === undefined || bal === undefined) return undefined;
  const value = present & HAS_VALUE ? readDecision(b, 32) : null;
  const decided = present & HAS_DECIDED ? readDecision(b, 80) : null;
  if (value === undefined || decided === undefined) return undefined;
  if (!value && !isZero(b, 32, 80)) return undefined;
  if (!decided && !isZero(b, 80, 128)) return undefined;
  return { instance, mbal, bal, value, decided };
}

// ---------------------------------------------------------------- slot records

interface SlotCodec<P> {
  magic: Buffer;
  encode(payload: P): Buffer;
  decode(bytes: Buffer): P | undefined;
}

const HEARTBEAT_CODEC: SlotCodec<HeartbeatPayload> = { magic: HEARTBEAT_MAGIC, encode: encodeHeartbeatPayload, decode: decodeHeartbeatPayload };
const VOTE_CODEC: SlotCodec<VotePayload> = { magic: VOTE_MAGIC, encode: encodeVotePayload, decode: decodeVotePayload };

/** What a slot decoder checks a record against. */
export interface SlotExpectation {
  clusterUuid: string;
  hostId: number;
}

function encodeSlot<P>(codec: SlotCodec<P>, record: SlotRecord<P>, clusterUuid: string, sectorSize: number): Buffer {
  if (!isSupportedSectorSize(sectorSize)) invalid(`sector size must be 512..4096, got ${sectorSize}`);
  checkInt('host id', record.hostId, 1, MAX_HOST_SLOTS);
  const payload = codec.encode(record.payload);
  const sector = Buffer.alloc(sectorSize);
  codec.magic.copy(sector, 0);
  sector.writeUInt16LE(LAYOUT_VERSION, 4);
  sector.writeUInt16LE(record.hostId, 6);
  uuidToBytes(clusterUuid).copy(sector, 8);
  writeU64(sector, 24, 'incarnation', record.incarnation);
  writeU64(sector, 32, 'sequence', record.sequence);
  sector.writeUInt16LE(payload.length, 40);
  payload.copy(sector, SLOT_PAYLOAD_OFFSET);
  sealRecord(sector);
  return sector;
}

function decodeSlot<P>(codec: SlotCodec<P>, sector: Buffer, expect: SlotExpectation): SlotRead<P> {
  const verdict = (v: SlotVerdict): SlotRead<P> => ({ hostId: expect.hostId, verdict: v });
  if (sector.length < RECORD_BYTES) return verdict('corrupt');
  if (isZero(sector)) return verdict('empty');
  if (!sector.subarray(0, 4).equals(codec.magic)) return verdict('corrupt');
  if (!crcMatches(sector)) return verdict('crc-mismatch');
  const version = sector.readUInt16LE(4);
  if (version > LAYOUT_VERSION) return verdict('future-version');
  if (version !== LAYOUT_VERSION || !isZero(sector, RECORD_BYTES)) return verdict('corrupt');
  if (!sector.subarray(8, 24).equals(uuidToBytes(expect.clusterUuid))) return verdict('foreign');
  if (sector.readUInt16LE(6) !== expect.hostId) return verdict('misplaced');
  const incarnation = readU64(sector, 24);
  const sequence = readU64(sector, 32);
  const length = sector.readUInt16LE(40);
  if (incarnation === undefined || sequence === undefined || sector.readUInt16LE(42) !== 0) return verdict('corrupt');
  if (length > MAX_SLOT_PAYLOAD_BYTES || !isZero(sector, SLOT_PAYLOAD_OFFSET + length, CRC_OFFSET)) return verdict('corrupt');
  const payload = codec.decode(sector.subarray(SLOT_PAYLOAD_OFFSET, SLOT_PAYLOAD_OFFSET + length));
  if (payload === undefined) return verdict('corrupt');
  return { hostId: expect.hostId, verdict: 'ok', record: { hostId: expect.hostId, incarnation, sequence, payload } };
}

/** Decodes `perSlot` consecutive sectors per host, host 1 first: reads[host - 1][copy]. */
function decodeAreaCopies<P>(codec: SlotCodec<P>, area: Buffer, header: DiskHeader, perSlot: number): SlotRead<P>[][] {
  const expected = header.hostSlots * perSlot * header.sectorSize;
  if (area.length < expected) invalid(`area buffer holds ${area.length} bytes, expected ${expected}`);
  const reads: SlotRead<P>[][] = [];
  for (let hostId = 1; hostId <= header.hostSlots; hostId++) {
    const copies: SlotRead<P>[] = [];
    for (let copy = 0; copy < perSlot; copy++) {
      const start = ((hostId - 1) * perSlot + copy) * header.sectorSize;
      copies.push(decodeSlot(codec, area.subarray(start, start + header.sectorSize), { clusterUuid: header.clusterUuid, hostId }));
    }
    reads.push(copies);
  }
  return reads;
}

/** One heartbeat sector (sectorSize bytes) ready to write at slotOffset(header, 'heartbeat', hostId). */
export function encodeHeartbeatSlot(record: SlotRecord<HeartbeatPayload>, clusterUuid: string, sectorSize: number): Buffer {
  return encodeSlot(HEARTBEAT_CODEC, record, clusterUuid, sectorSize);
}

/** One vote sector, ready to write at slotOffset(header, 'vote', hostId, voteCopyToWrite(...)). */
export function encodeVoteSlot(record: SlotRecord<VotePayload>, clusterUuid: string, sectorSize: number): Buffer {
  return encodeSlot(VOTE_CODEC, record, clusterUuid, sectorSize);
}

export function decodeHeartbeatSlot(sector: Buffer, expect: SlotExpectation): SlotRead<HeartbeatPayload> {
  return decodeSlot(HEARTBEAT_CODEC, sector, expect);
}

/** Decodes ONE vote sector (one copy); decodeVoteCopies + chooseCopy give a host's vote. */
export function decodeVoteSlot(sector: Buffer, expect: SlotExpectation): SlotRead<VotePayload> {
  return decodeSlot(VOTE_CODEC, sector, expect);
}

/** Decodes a whole heartbeat area (as returned by one read of heartbeatAreaSizeBytes), host 1 first. */
export function decodeHeartbeatArea(area: Buffer, header: DiskHeader): SlotRead<HeartbeatPayload>[] {
  return decodeAreaCopies(HEARTBEAT_CODEC, area, header, 1).map((copies) => copies[0]!);
}

/** Both copies of every host's vote (one read of voteAreaSizeBytes): copies[host - 1] = [A, B]. */
export function decodeVoteAreaCopies(area: Buffer, header: DiskHeader): SlotRead<VotePayload>[][] {
  return decodeAreaCopies(VOTE_CODEC, area, header, VOTE_COPIES);
}

/** Every host's vote, host 1 first: the copy chooseCopy picks of each pair. */
export function decodeVoteArea(area: Buffer, header: DiskHeader): SlotRead<VotePayload>[] {
  return decodeVoteAreaCopies(area, header).map((copies) => chooseCopy(copies));
}

/** Decodes one host's adjacent vote pair (VOTE_COPIES sectors, as one read returns it). */
export function decodeVotePair(pair: Buffer, header: DiskHeader, hostId: number): SlotRead<VotePayload>[] {
  const expect = { clusterUuid: header.clusterUuid, hostId };
  return Array.from({ length: VOTE_COPIES }, (_, copy) => decodeVoteSlot(pair.subarray(copy * header.sectorSize, (copy + 1) * header.sectorSize), expect));
}
