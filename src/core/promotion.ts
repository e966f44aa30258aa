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
