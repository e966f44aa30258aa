// The decided member set as it changes: the `membership` output (the daemon logs each
// eviction and admission from it) and when each host was admitted (a host admitted over
// the network gets a keep-alive to re-register and write, see takeSnapshot).

import type { Decision, HostId, Output } from './types.js';

export class Membership {
  /** Own clock: when a decision added each host to the member set (not the first decision). */
  private readonly admittedAtMs = new Map<HostId, number>();

  constructor(private readonly graceMs: number) {}

  /** Decision `d` replaces `previous`: emits `membership` when the member set changed. */
  onAdopt(nowMs: number, previous: Decision | null, d: Decision, out: Output[]): void {
    const before = previous?.members ?? [];
    const admitted = d.members.filter((h) => !before.includes(h));
    const evicted = before.filter((h) => !d.members.includes(h));
    if (previous !== null) for (const h of admitted) this.admittedAtMs.set(h, nowMs);
    if (previous !== null && admitted.length === 0 && evicted.length === 0) return;
    out.push({ kind: 'membership', epoch: d.epoch, masterId: d.masterId, members: [...d.members], admitted, evicted });
  }

  /** Host `h` is a member of `d` admitted less than the grace ago. */
  recentlyAdmitted(h: HostId, nowMs: number, d: Decision | null): boolean {
    const at = this.admittedAtMs.get(h);
    return at !== undefined && d?.members.includes(h) === true && nowMs - at < this.graceMs;
  }
}
