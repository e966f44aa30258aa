// Heartbeat-2 leases (docs/engine.md, "Leases"): what the engine grants each resource's
// database, as `grant-lease` outputs; the shell answers the database's heartbeats with
// what is left of the latest grant and never extends one by itself.
//  - on the master every resource gets a primary grant that ends with the master window
//    (never later), re-granted whenever the window moves;
//  - elsewhere a grant only says that ycs is alive: it runs twice the lease ahead and is
//    renewed when less than one lease is left, so a wedged ycs lets it lapse.
// A host that stops being master revokes write authority (`revoke-authority`) before any
// other grant of that step, so no database keeps a primary grant past that moment.

import { assert } from './assert.js';
import type { Output } from './types.js';

interface Grant {
  untilMs: number;
  primary: boolean;
}

export class LeaseGrants {
  private readonly grants: Array<Grant | null>;

  constructor(
    resourceCount: number,
    private readonly leaseMs: number,
  ) {
    this.grants = Array.from({ length: resourceCount }, () => null);
  }

  /** Master: a primary grant per resource ending at `windowEndMs` (re-emitted when it moves). */
  grantPrimary(nowMs: number, windowEndMs: number, out: Output[]): void {
    assert(windowEndMs <= nowMs + this.leaseMs, () => `primary grant ${windowEndMs} beyond one lease after ${nowMs}`);
    this.grants.forEach((g, resource) => {
      if (g !== null && g.primary && g.untilMs === windowEndMs) return;
      this.set(resource, { untilMs: windowEndMs, primary: true }, out);
    });
  }

  /** Not master: a liveness grant per resource, renewed when less than a lease is left. */
  grantAlive(nowMs: number, out: Output[]): void {
    this.grants.forEach((g, resource) => {
      if (g !== null && !g.primary && g.untilMs - nowMs >= this.leaseMs) return;
      this.set(resource, { untilMs: nowMs + 2 * this.leaseMs, primary: false }, out);
    });
  }

  /** Write authority ends now: every primary grant is void, whatever its end said. */
  revoke(reason: string, out: Output[]): void {
    out.push({ kind: 'revoke-authority', reason });
    this.grants.fill(null);
  }

  private set(resource: number, g: Grant, out: Output[]): void {
    this.grants[resource] = g;
    out.push({ kind: 'grant-lease', resource, untilMs: g.untilMs, primary: g.primary });
  }
}
