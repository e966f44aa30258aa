// Wire format of network heartbeat 1, version 1. One UDP datagram per message, big-endian,
// authenticated with HMAC-SHA256 under the cluster key (docs/control-protocol.md has the
// byte table beside the control socket's protocol).
//
//   off size field
//     0    4 magic "YCSN"
//     4    1 version (1)
//     5    1 type (1 = heartbeat)
//     6    2 flags (0; receivers ignore unknown bits)
//     8   16 cluster id (clusterIdFromName)
//    24    1 from host id (1..255)
//    25    1 to host id (1..255): binds the MAC to one receiver
//    26    1 role code (ROLE_CODES)
//    27    1 heard count N (0..255)
//    28    8 incarnation (u64, < 2^53)
//    36    8 sequence (u64, < 2^53)
//    44    8 epoch (u64, < 2^53)
//    52    1 master id (0 = none)
//    53    3 reserved (0)
//    56    N heard host ids, ascending
//  56+N   32 HMAC-SHA256 over bytes [0, 56+N)
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { HostId, NetHeartbeat, Role } from '../core/types.js';

export const NET_MAGIC = Buffer.from('YCSN', 'ascii');
export const NET_VERSION = 1;
export const MSG_TYPE_HEARTBEAT = 1;
export const HEADER_BYTES = 56;
export const MAC_BYTES = 32;
export const CLUSTER_ID_BYTES = 16;
/** Larger datagrams are dropped unread: the biggest valid message is 56 + 255 + 32 bytes. */
export const MAX_PACKET_BYTES = 512;

const ROLE_CODES: readonly Role[] = ['starting', 'standby', 'master', 'evicted', 'leaving'];

/** A heartbeat as carried on the wire: the body plus who it is for and which cluster. */
export interface WireHeartbeat {
  clusterId: Buffer;
  to: HostId;
  message: NetHeartbeat;
}

export type DecodeFailure =
  | 'oversize'
  | 'truncated'
  | 'malformed'
  | 'wrong-version'
  | 'wrong-type'
  | 'wrong-cluster'
  | 'bad-mac';

export type DecodeResult = { ok: true; value: WireHeartbeat } | { ok: false; reason: DecodeFailure; detail: string };

/** 16 bytes naming the cluster on the wire: a heartbeat of another cluster is told apart before its MAC. */
export function clusterIdFromName(name: string): Buffer {
  return createHash('sha256').update(`ycs-cluster:${name}`).digest().subarray(0, CLUSTER_ID_BYTES);
}

function isHostId(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 255;
}

function isU53(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function checkEncodable(wire: WireHeartbeat): void {
  const m = wire.message;
  const problems: string[] = [];
  if (wire.clusterId.length !== CLUSTER_ID_BYTES) problems.push('cluster id must be 16 bytes');
  if (!isHostId(m.from)) problems.push(`from ${m.from}`);
  if (!isHostId(wire.to)) problems.push(`to ${wire.to}`);
  if (!ROLE_CODES.includes(m.role)) problems.push(`role ${String(m.role)}`);
  if (!isU53(m.incarnation) || !isU53(m.sequence) || !isU53(m.epoch)) problems.push('incarnation/sequence/epoch');
  if (m.masterId !== 0 && !isHostId(m.masterId)) problems.push(`masterId ${m.masterId}`);
  if (m.heard.length > 255 || !m.heard.every(isHostId)) problems.push('heard');
  if (problems.length > 0) throw new RangeError(`cannot encode heartbeat: ${problems.join(', ')}`);
}

export function encodeHeartbeat(wire: WireHeartbeat, key: Buffer): Buffer {
  checkEncodable(wire);
  const m = wire.message;
  const heard = [...new Set(m.heard)].sort((a, b) => a - b);
  const bodyBytes = HEADER_BYTES + heard.length;
  const buf = Buffer.alloc(bodyBytes + MAC_BYTES);
  NET_MAGIC.copy(buf, 0);
  buf.writeUInt8(NET_VERSION, 4);
  buf.writeUInt8(MSG_TYPE_HEARTBEAT, 5);
  buf.writeUInt16BE(0, 6);
  wire.clusterId.copy(buf, 8);
  buf.writeUInt8(m.from, 24);
  buf.writeUInt8(wire.to, 25);
  buf.writeUInt8(ROLE_CODES.indexOf(m.role), 26);
  buf.writeUInt8(heard.length, 27);
  buf.writeBigUInt64BE(BigInt(m.incarnation), 28);
  buf.writeBigUInt64BE(BigInt(m.sequence), 36);
  buf.writeBigUInt64BE(BigInt(m.epoch), 44);
  buf.writeUInt8(m.masterId, 52);
  heard.forEach((id, i) => buf.writeUInt8(id, HEADER_BYTES + i));
  mac(key, buf.subarray(0, bodyBytes)).copy(buf, bodyBytes);
  return buf;
}

function mac(key: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest();
}

function fail(reason: DecodeFailure, detail: string): DecodeResult {
  return { ok: false, reason, detail };
}

function readU53(buf: Buffer, offset: number): number | undefined {
  const value = buf.readBigUInt64BE(offset);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(value);
}

/**
 * Checks, in order: size, magic, version, type, length, cluster, MAC, then field values.
 * The MAC is verified before any field is trusted; nothing here throws on any input.
 */
export function decodeHeartbeat(buf: Buffer, key: Buffer, expectedClusterId: Buffer): DecodeResult {
  if (buf.length > MAX_PACKET_BYTES) return fail('oversize', `${buf.length} bytes`);
  if (buf.length < 6) return fail('truncated', `${buf.length} bytes`);
  if (!buf.subarray(0, 4).equals(NET_MAGIC)) return fail('malformed', 'bad magic');
  if (buf.readUInt8(4) !== NET_VERSION) return fail('wrong-version', `version ${buf.readUInt8(4)}`);
  if (buf.readUInt8(5) !== MSG_TYPE_HEARTBEAT) return fail('wrong-type', `type ${buf.readUInt8(5)}`);
  if (buf.length < HEADER_BYTES + MAC_BYTES) return fail('truncated', `${buf.length} bytes`);
  const heardCount = buf.readUInt8(27);
  const bodyBytes = HEADER_BYTES + heardCount;
  if (buf.length < bodyBytes + MAC_BYTES) return fail('truncated', `${buf.length} bytes for ${heardCount} heard`);
  if (buf.length > bodyBytes + MAC_BYTES) return fail('malformed', `${buf.length} bytes for ${heardCount} heard`);
  const clusterId = buf.subarray(8, 8 + CLUSTER_ID_BYTES);
  if (!clusterId.equals(expectedClusterId)) return fail('wrong-cluster', clusterId.toString('hex'));
  const expectedMac = mac(key, buf.subarray(0, bodyBytes));
  if (!timingSafeEqual(expectedMac, buf.subarray(bodyBytes))) return fail('bad-mac', 'HMAC mismatch');
  return decodeFields(buf, heardCount, Buffer.from(clusterId));
}

function decodeFields(buf: Buffer, heardCount: number, clusterId: Buffer): DecodeResult {
  const from = buf.readUInt8(24);
  const to = buf.readUInt8(25);
  const role = ROLE_CODES[buf.readUInt8(26)];
  const incarnation = readU53(buf, 28);
  const sequence = readU53(buf, 36);
  const epoch = readU53(buf, 44);
  const masterId = buf.readUInt8(52);
  const heard: HostId[] = [];
  for (let i = 0; i < heardCount; i++) heard.push(buf.readUInt8(HEADER_BYTES + i));
  if (!isHostId(from) || !isHostId(to)) return fail('malformed', `from ${from} to ${to}`);
  if (role === undefined) return fail('malformed', `role code ${buf.readUInt8(26)}`);
  if (incarnation === undefined || sequence === undefined || epoch === undefined) {
    return fail('malformed', 'counter beyond 2^53');
  }
  const sorted = heard.every((id, i) => isHostId(id) && (i === 0 || id > (heard[i - 1] ?? 0)));
  if (!sorted) return fail('malformed', 'heard list not ascending host ids');
  const message: NetHeartbeat = { from, incarnation, sequence, role, epoch, masterId, heard };
  return { ok: true, value: { clusterId, to, message } };
}
