// The heartbeat-2 leases the engine granted (`grant-lease` outputs), per resource. The
// heartbeat-2 server answers each heartbeat with what is left of the latest grant and
// never extends one itself: when the engine stops stepping, its grants run out.
import type { DbRole } from './types.js';

interface Grant {
  untilMs: number;
  primary: boolean;
}

export class Hb2Leases {
  private readonly grants: Array<Grant | null>;

  constructor(
    resourceCount: number,
    private readonly now: () => number,
  ) {
    this.grants = Array.from({ length: resourceCount }, () => null);
  }

  /** Carries out a `grant-lease` output (own monotonic clock, like the engine's). */
  grant(resource: number, untilMs: number, primary: boolean): void {
    if (resource >= 0 && resource < this.grants.length) this.grants[resource] = { untilMs, primary };
  }

  /** `revoke-authority`: every primary grant is void at once. */
  revokePrimary(): void {
    this.grants.forEach((g, i) => {
      if (g?.primary === true) this.grants[i] = null;
    });
  }

  /**
   * The lease for an ack to resource `index` whose authority is `role`: what is left of
   * its latest grant, and 0 for a primary without a primary grant (or with none at all).
   */
  leaseMs(index: number, role: DbRole): number {
    const g = this.grants[index];
    if (g === null || g === undefined) return 0;
    if (role === 'primary' && !g.primary) return 0;
    return Math.max(0, Math.floor(g.untilMs - this.now()));
  }
}
