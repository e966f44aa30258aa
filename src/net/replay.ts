// Replay protection for network heartbeat 1: a sliding window per sender, as IPsec's
// anti-replay window (RFC 4303 section 3.4.3), keyed by the sender's incarnation.
// A newer incarnation (the sender's daemon restarted) resets the window; an older one is
// a replay of a previous life and is rejected. Only call `accept` after the MAC verified,
// or forged packets could advance the window and lock the real sender out.
import type { HostId } from '../core/types.js';

export const REPLAY_WINDOW = 64;

export type ReplayVerdict = 'fresh' | 'replay' | 'stale-incarnation';

interface SenderWindow {
  incarnation: number;
  highest: number; // highest sequence accepted
  seen: bigint; // bit i set: sequence (highest - i) was accepted
}

const WINDOW_MASK = (1n << BigInt(REPLAY_WINDOW)) - 1n;

export class ReplayGuard {
  private readonly senders = new Map<HostId, SenderWindow>();

  /** Records (incarnation, sequence) of `from` if it is new; says why not otherwise. */
  accept(from: HostId, incarnation: number, sequence: number): ReplayVerdict {
    const window = this.senders.get(from);
    if (window === undefined || incarnation > window.incarnation) {
      this.senders.set(from, { incarnation, highest: sequence, seen: 1n });
      return 'fresh';
    }
    if (incarnation < window.incarnation) return 'stale-incarnation';
    if (sequence > window.highest) {
      const shift = sequence - window.highest;
      window.seen = shift >= REPLAY_WINDOW ? 1n : ((window.seen << BigInt(shift)) | 1n) & WINDOW_MASK;
      window.highest = sequence;
      return 'fresh';
    }
    const age = window.highest - sequence;
    if (age >= REPLAY_WINDOW) return 'replay';
    const bit = 1n << BigInt(age);
    if ((window.seen & bit) !== 0n) return 'replay';
    window.seen |= bit;
    return 'fresh';
  }

  /** The (incarnation, highest sequence) last accepted from a sender, for status and tests. */
  latest(from: HostId): { incarnation: number; sequence: number } | undefined {
    const window = this.senders.get(from);
    return window === undefined ? undefined : { incarnation: window.incarnation, sequence: window.highest };
  }
}
