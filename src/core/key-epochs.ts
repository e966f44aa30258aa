// The epoch a reservation key carries (docs/fencing.md "Keys"): a host registers with the
// epoch of the decision that admits it and re-keys at every newer decided epoch that keeps
// it, so a registration belongs to the epoch it was made for. A fence issued for epoch E
// may remove only registrations made for an older epoch: a key of epoch E or newer means a
// decision at least as new as the fence's admitted the victim, and the fence is stale.
// Keys hold the epoch modulo 2^24; comparisons use serial-number arithmetic (RFC 1982),
// valid while the epochs compared are less than 2^23 apart.

export const KEY_EPOCH_BITS = 24;
const MODULUS = 2 ** KEY_EPOCH_BITS;
const HALF = MODULUS / 2;

/** The epoch as a key carries it. */
export function keyEpochOf(epoch: number): number {
  return ((epoch % MODULUS) + MODULUS) % MODULUS;
}

/**
 * Whether a fence for `fenceEpoch` may remove a registration whose key carries
 * `keyEpoch`; null is a key from before epoch-carrying keys (format v1), older than any.
 */
export function preemptable(keyEpoch: number | null, fenceEpoch: number): boolean {
  if (keyEpoch === null) return true;
  const distance = (keyEpochOf(fenceEpoch) - keyEpochOf(keyEpoch) + MODULUS) % MODULUS;
  return distance > 0 && distance < HALF;
}
