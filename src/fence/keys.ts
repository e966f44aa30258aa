// Reservation keys: one 8-byte key per host, derived from the cluster UUID and the host id
// (docs/fencing.md "Keys"):
//   key = SHA-256("ycs-pr-key-v1" || uuid as 16 bytes)[0..6] (6 bytes, big-endian)
//         || host id as 2 bytes big-endian
// A key is never 0 (host ids are 1..255, so the low 16 bits are never 0), keys of two
// clusters sharing a LUN differ in the 48-bit prefix, and any host can tell from a key
// which host of its cluster registered it without a table on disk.
import { createHash } from 'node:crypto';
import { YcsError } from '../errors.js';

export const KEY_DERIVATION_LABEL = 'ycs-pr-key-v1';
export const MAX_HOST_ID = 255;

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function uuidBytes(clusterUuid: string): Buffer {
  if (!UUID_RE.test(clusterUuid)) {
    throw new YcsError('E_INVALID_ARGUMENT', `not a cluster UUID: "${clusterUuid}"`);
  }
  return Buffer.from(clusterUuid.replace(/-/g, ''), 'hex');
}

/** The 48-bit cluster part of every key of this cluster. */
export function clusterKeyPrefix(clusterUuid: string): bigint {
  const digest = createHash('sha256').update(KEY_DERIVATION_LABEL).update(uuidBytes(clusterUuid)).digest();
  return BigInt(digest.readUIntBE(0, 6));
}

function assertHostId(hostId: number): void {
  if (!Number.isInteger(hostId) || hostId < 1 || hostId > MAX_HOST_ID) {
    throw new YcsError('E_INVALID_ARGUMENT', `host id must be 1..${MAX_HOST_ID}, got ${hostId}`);
  }
}

export function reservationKey(clusterUuid: string, hostId: number): bigint {
  assertHostId(hostId);
  return (clusterKeyPrefix(clusterUuid) << 16n) | BigInt(hostId);
}

/** The host that registered `key`, or null when the key is not one of this cluster's. */
export function hostIdOfKey(clusterUuid: string, key: bigint): number | null {
  if (key >> 16n !== clusterKeyPrefix(clusterUuid)) return null;
  const hostId = Number(key & 0xffffn);
  return hostId >= 1 && hostId <= MAX_HOST_ID ? hostId : null;
}
