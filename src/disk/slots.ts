// The slot codecs of layout v1 (docs/disk-layout.md): heartbeat and vote sectors, their
// payloads, and whole areas. Encoders validate and throw E_INVALID_ARGUMENT, and check
// each sector they build by decoding it again (an assertion: a codec bug never reaches a
// disk); decoders never throw: every slot gets a verdict.
import { assert } from '../core/assert.js';
import type { Decision, HeartbeatPayload, ResourceState, SlotRead, SlotRecord, SlotVerdict, VotePayload } from '../core/types.js';
import {
  HEARTBEAT_MAGIC, LAYOUT_VERSION, MAX_HOST_SLOTS, MAX_RESOURCES, MAX_SLOT_PAYLOAD_BYTES, RECORD_BYTES, RESOURCE_STATES, ROLES,
  SLOT_PAYLOAD_OFFSET, VOTE_COPIES, VOTE_MAGIC, CRC_OFFSET,
  checkInt, crcMatches, invalid, isSupportedSectorSize, isZero, readHostBitmap, readU64, sealRecord, uuidToBytes, writeHostBitmap, writeU64,
} from './format.js';
import type { DiskHeader } from './layout.js';
import { chooseCopy } from './vote-copies.js';

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
  // Round trip (an assertion that stays on): the sector must decode to the same record.
  const back = decodeSlot(codec, sector, { clusterUuid, hostId: record.hostId });
  assert(
    back.verdict === 'ok' && back.record !== undefined && back.record.incarnation === record.incarnation &&
      back.record.sequence === record.sequence && codec.encode(back.record.payload).equals(payload),
    () => `the sector encoded for host ${record.hostId} does not decode to its record (verdict ${back.verdict})`,
  );
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
