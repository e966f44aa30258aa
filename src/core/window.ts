// The master validity window (invariant 2, docs/timeouts.md): a host may act as master,
// or stay a member, only while now < start of its last majority heartbeat write and of
// its last majority read + lease. Both starts are on this host's own clock and only grow.

import { assert } from './assert.js';
import type { Role } from './types.js';

export class MasterWindow {
  private writeStartMs: number | null = null;
  private readStartMs: number | null = null;

  constructor(private readonly leaseMs: number) {}

  /** A heartbeat write round issued at `issuedAtMs` reached a majority. */
  onMajorityWrite(issuedAtMs: number): void {
    this.writeStartMs = Math.max(this.writeStartMs ?? issuedAtMs, issuedAtMs);
  }

  /** A read round issued at `issuedAtMs` reached a majority. */
  onMajorityRead(issuedAtMs: number): void {
    this.readStartMs = Math.max(this.readStartMs ?? issuedAtMs, issuedAtMs);
  }

  /** Own-clock end of the window; null before the first majority write and read. */
  end(): number | null {
    if (this.writeStartMs === null || this.readStartMs === null) return null;
    return Math.min(this.writeStartMs, this.readStartMs) + this.leaseMs;
  }

  /** Both a majority write and a majority read started within the lease. */
  recent(nowMs: number): boolean {
    const end = this.end();
    return end !== null && nowMs < end;
  }

  /** A majority read started within the lease (an evicted host can see the decisions). */
  canRead(nowMs: number): boolean {
    return this.readStartMs !== null && nowMs < this.readStartMs + this.leaseMs;
  }

  /** A majority read started at or after `afterMs` (the host looked at the disks since). */
  readSince(afterMs: number): boolean {
    return this.readStartMs !== null && this.readStartMs >= afterMs;
  }

  /**
   * Invariant 2: act as master (or stay a member) only inside the window. A host that just
   * became a standby gets one lease from its role change to prove its disk access.
   */
  valid(nowMs: number, role: Role, roleSinceMs: number): boolean {
    if (this.recent(nowMs)) return true;
    return role === 'standby' && nowMs < roleSinceMs + this.leaseMs;
  }

  /** Own-clock ms left of the window for a master (0 when expired or none). */
  remaining(nowMs: number): number {
    const end = this.end();
    const left = end === null ? 0 : Math.max(0, end - nowMs);
    assert(left <= this.leaseMs, () => `window left ${left} ms exceeds the lease ${this.leaseMs} ms`);
    return left;
  }
}
