// The engine's view of every host for the decision functions (src/core/decide.ts).

import type { HostSnapshot, Snapshot } from './decide.js';
import type { Detector } from './detection.js';
import type { Decision, HeartbeatPayload, HostId, Role, SlotRead } from './types.js';

export interface SnapshotSource {
  self: HostId;
  hostIds: HostId[];
  detector: Detector;
  decision: Decision | null;
  role: Role;
  flags: number;
  diskLive: boolean;
  /** A host admitted within the last keep-alive (it may still be re-registering). */
  recentlyAdmitted(h: HostId): boolean;
}

/** This host's view at `now`; `only` limits it to a few hosts (cheaper). */
export function takeSnapshot(s: SnapshotSource, now: number, only?: HostId[]): Snapshot {
  const hosts = new Map<HostId, HostSnapshot>();
  const heard = s.detector.heardSet(now);
  for (const h of only ?? s.hostIds) {
    if (h === s.self) {
      hosts.set(h, { hostId: h, diskLive: s.diskLive, netJoining: false, role: s.role, epoch: s.decision?.epoch ?? 0, flags: s.flags, heard });
      continue;
    }
    const peer = s.detector.hostSnapshot(h, heard, now);
    if (peer === undefined) continue;
    // A host admitted over the network (fenced at the storage, it could not write) needs
    // time to re-register its key and get a heartbeat write through: for a keep-alive
    // after its admission it stays a candidate while it is heard, instead of being
    // evicted again by the master's next read round (admitted, evicted, admitted ...).
    if (!peer.diskLive && heard.includes(h) && s.recentlyAdmitted(h)) peer.diskLive = true;
    hosts.set(h, peer);
  }
  return { selfId: s.self, decision: s.decision, hosts };
}

/**
 * A heartbeat showing an epoch with master 0 carries only its host's epoch floor (a
 * restarted host that has not learned the decision yet): peers judge it as not caught up
 * (epoch 0), so it neither acknowledges a promotion nor counts as a master that released
 * its role. The arbiter still sees the raw epoch as a trace.
 */
export function withoutFloorOnly(slot: SlotRead<HeartbeatPayload>): SlotRead<HeartbeatPayload> {
  const p = slot.record?.payload;
  if (slot.record === undefined || p === undefined || p.masterId !== 0 || p.epoch === 0) return slot;
  return { ...slot, record: { ...slot.record, payload: { ...p, epoch: 0 } } };
}
