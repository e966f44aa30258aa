// Reservation keys (docs/fencing.md "Keys"), format v2: one 8-byte key per host and epoch,
//   key = SHA-256("ycs-pr-key-v2" || uuid as 16 bytes)[0..4]   (32 bits, big-endian)
//         || epoch mod 2^24 (24 bits) || host id (8 bits)
// The epoch is the one the host registered for (src/core/key-epochs.ts): a fence may only
// remove keys of epochs older than its own, and a host re-keys at each new epoch, so the
// target itself refuses a stale PREEMPT of a key that was replaced meanwhile.
// A key is never 0 (host ids are 1..255), keys of two clusters sharing a LUN differ in
// the 32-bit prefix, and any host can tell from a key which host of its cluster holds it,
// and for which epoch, without a table on disk. Format v1 keys (48-bit prefix from
// "ycs-pr-key-v1" || 16-bit host id) are still recognized, as keys of no epoch.
import { createHash } from 'node:crypto';
import { keyEpochOf, KEY_EPOCH_BITS } from '../core/key-epochs.js';
import { YcsError } from '../errors.js';

export const KEY_DERIVATION_LABEL = 'ycs-pr-key-v2';
export const LEGACY_KEY_DERIVATION_LABEL = 'ycs-pr-key-v1';
export const MAX_HOST_ID = 255;

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const HOST_BITS = 8n;
const EPOCH_SHIFT = HOST_BITS;
const PREFIX_SHIFT = HOST_BITS + BigInt(KEY_EPOCH_BITS);
const EPOCH_MASK = (1n << BigInt(KEY_EPOCH_BITS)) - 1n;

export function uuidBytes(clusterUuid: string): Buffer {
  if (!UUID_RE.test(clusterUuid)) {
    throw new YcsError('E_INVALID_ARGUMENT', `not a cluster UUID: "${clusterUuid}"`);
  }
  return Buffer.from(clusterUuid.replace(/-/g, ''), 'hex');
}

function digest(label: string, clusterUuid: string): Buffer {
  return createHash('sha256').update(label).update(uuidBytes(clusterUuid)).digest();
}

/** The 32-bit cluster part of every v2 key of this cluster. */
export function clusterKeyPrefix(clusterUuid: string): bigint {
  return BigInt(digest(KEY_DERIVATION_LABEL, clusterUuid).readUInt32BE(0));
}

/** The 48-bit cluster part of every v1 key of this cluster. */
function legacyKeyPrefix(clusterUuid: string): bigint {
  return BigInt(digest(LEGACY_KEY_DERIVATION_LABEL, clusterUuid).readUIntBE(0, 6));
}

function assertHostId(hostId: number): void {
  if (!Number.isInteger(hostId) || hostId < 1 || hostId > MAX_HOST_ID) {
    throw new YcsError('E_INVALID_ARGUMENT', `host id must be 1..${MAX_HOST_ID}, got ${hostId}`);
  }
}

/** The key of `hostId` registered for `epoch` (0: no decided epoch known, older than any). */
export function reservationKey(clusterUuid: string, hostId: number, epoch = 0): bigint {
  assertHostId(hostId);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new YcsError('E_INVALID_ARGUMENT', `epoch must be a non-negative integer, got ${epoch}`);
  return (clusterKeyPrefix(clusterUuid) << PREFIX_SHIFT) | (BigInt(keyEpochOf(epoch)) << EPOCH_SHIFT) | BigInt(hostId);
}

/** The v1 key of a host (before keys carried an epoch): for upgrades and their tests. */
export function legacyReservationKey(clusterUuid: string, hostId: number): bigint {
  assertHostId(hostId);
  return (legacyKeyPrefix(clusterUuid) << 16n) | BigInt(hostId);
}

export interface KeyOwner {
  hostId: number;
  /** The epoch (mod 2^24) the key was registered for; null for a v1 key. */
  keyEpoch: number | null;
}

/** Whose key `key` is, or null when it is not one of this cluster's. */
export function parseKey(clusterUuid: string, key: bigint): KeyOwner | null {
  if (key >> PREFIX_SHIFT === clusterKeyPrefix(clusterUuid)) {
    const hostId = Number(key & ((1n << HOST_BITS) - 1n));
    return hostId >= 1 ? { hostId, keyEpoch: Number((key >> EPOCH_SHIFT) & EPOCH_MASK) } : null;
  }
  if (key >> 16n === legacyKeyPrefix(clusterUuid)) {
    const hostId = Number(key & 0xffffn);
    return hostId >= 1 && hostId <= MAX_HOST_ID ? { hostId, keyEpoch: null } : null;
  }
  return null;
}

/** The host that registered `key`, or null when the key is not one of this cluster's. */
export function hostIdOfKey(clusterUuid: string, key: bigint): number | null {
  return parseKey(clusterUuid, key)?.hostId ?? null;
}
