// Timing of lease-store mode (etcd, docs/etcd-mode.md), derived from the lease TTL and the
// base timeouts of timeouts.ts, and the one rule that keeps two masters apart.

import { YcsError } from '../errors.js';
import type { Timeouts } from './timeouts.js';

export interface StoreTimeouts {
  /** The lease TTL asked of the store (ETCD_LEASE_TTL): a whole number of seconds. */
  ttlMs: number;
  /** The holder renews this often (six keepalives per TTL: five may fail without a demotion). */
  keepaliveIntervalMs: number;
  /** Deadline of each store call; a call still unanswered after twice this is given up on. */
  callDeadlineMs: number;
  /** A host that holds no lease reads the leader record this often (the holder: once per keepalive). */
  pollIntervalMs: number;
  /** Budget for the tick granularity: the master stops at most this late after its own step. */
  marginMs: number;
  /** On the master, a database's primary grant runs at most this far ahead (re-granted at half). */
  primaryGrantMs: number;
  /** After giving the lease up, a host does not campaign for this long (a healthy standby goes first). */
  resignHoldoffMs: number;
  rho: number;
}

export const DEFAULT_STORE_TTL_MS = 3_000;

/**
 * The own-clock end of the master role after a keepalive (or the campaign) sent at
 * `sentAtMs` was acknowledged with `ttlMs`. The store expires the lease no earlier than
 * TTL after it received the call, on its leader's clock, which may run up to rho fast; it
 * received it after `sentAtMs`; and our own clock may run up to rho slow. TTL*(1 - 2 rho)
 * covers both clocks; the margin covers how late a step can stop the role.
 */
export function masterEnd(sentAtMs: number, ttlMs: number, t: Pick<StoreTimeouts, 'rho' | 'marginMs'>): number {
  return sentAtMs + ttlMs * (1 - 2 * t.rho) - t.marginMs;
}

export function deriveStoreTimeouts(ttlMs: number, base: Timeouts): StoreTimeouts {
  if (!Number.isInteger(ttlMs) || ttlMs % 1_000 !== 0 || ttlMs < 2_000 || ttlMs > 60_000) {
    throw new YcsError('E_CONFIG', `unsafe timeouts: ETCD_LEASE_TTL must be a whole number of seconds from 2000 to 60000 ms, got ${ttlMs}`);
  }
  const keepaliveIntervalMs = Math.floor(ttlMs / 6);
  return {
    ttlMs,
    keepaliveIntervalMs,
    callDeadlineMs: Math.floor(ttlMs / 3),
    pollIntervalMs: Math.min(100, keepaliveIntervalMs),
    // A step comes at least every tick; a later one is a pause, and every step checks the end first.
    marginMs: 2 * base.tickIntervalMs,
    primaryGrantMs: Math.min(500, keepaliveIntervalMs),
    resignHoldoffMs: 10 * Math.min(100, keepaliveIntervalMs),
    rho: base.clockDriftRho,
  };
}
