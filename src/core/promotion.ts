// The promotion gate (invariant 3): a newly decided master promotes only once every other
// host certainly no longer acts as master of an older epoch. Per host that is either an
// acknowledgement (its heartbeat shows the new epoch, a non-master role and no primary
// resource: it adopted the decision and stopped) or, with PR fencing, a completed fence
// of a host outside the member set. Otherwise the promoter waits selfFenceWaitMs after the
// decision became durable (docs/timeouts.md), which covers hosts that are dead or silent.

import type { PeerState } from './detection.js';
import type { Decision, HostId } from './types.js';

export interface Promotion {
  epoch: number;
  /** Hosts whose fence completed for this epoch. */
  fenced: Set<HostId>;
}

export function acknowledged(peer: PeerState | undefined, epoch: number): boolean {
  if (peer === undefined) return false;
  const p = peer.payload;
  return p.epoch >= epoch && p.role !== 'master' && !p.resources.some((r) => r.state === 'primary');
}

/** Whether host h is stopped for good as far as this promotion is concerned. */
export function cleared(peer: PeerState | undefined, h: HostId, p: Promotion, d: Decision): boolean {
  if (acknowledged(peer, p.epoch)) return true;
  return p.fenced.has(h) && !d.members.includes(h);
}

/**
 * The gate of one decided master that is not master yet: its epoch, the fences completed
 * for it, and when its decision became durable (the self-fence wait starts there).
 */
export class PromotionGate {
  private pending: Promotion | null = null;
  private durableAtMs: number | null = null;

  constructor(
    private readonly self: HostId,
    private readonly hostIds: HostId[],
    private readonly selfFenceWaitMs: number,
  ) {}

  /** A decision was adopted: its durability is measured afresh and any pending promotion is void. */
  onDecision(): void {
    this.durableAtMs = null;
    this.pending = null;
  }

  /** The adopted decision names this host master and it is not master yet. */
  begin(epoch: number): void {
    this.pending = { epoch, fenced: new Set() };
  }

  get promoting(): boolean {
    return this.pending !== null;
  }

  cancel(): void {
    this.pending = null;
  }

  /** Our block carrying the current decision became durable on a majority. */
  onDurable(nowMs: number): void {
    this.durableAtMs ??= nowMs;
  }

  get durable(): boolean {
    return this.durableAtMs !== null;
  }

  onFenced(victim: HostId): void {
    this.pending?.fenced.add(victim);
  }

  /**
   * How the gate opens for decision `d` now: 'self-fence wait' once the wait after
   * durability passed, 'acknowledged or fenced' once every other host is cleared; null
   * while closed. `peer` gives the detector's state of a host.
   */
  opens(nowMs: number, d: Decision, peer: (h: HostId) => PeerState | undefined): string | null {
    const p = this.pending;
    if (p === null || d.epoch !== p.epoch) return null;
    if (this.durableAtMs !== null && nowMs - this.durableAtMs >= this.selfFenceWaitMs) return 'self-fence wait';
    if (this.hostIds.every((h) => h === this.self || cleared(peer(h), h, p, d))) return 'acknowledged or fenced';
    return null;
  }
}
