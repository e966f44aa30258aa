// What `ycsctl status` shows, derived from the engine's state on demand (never stored).

import type { Detector } from './detection.js';
import { awaitsHb2, shownState } from './resources.js';
import type { ClusterView, Decision, HostId, ResourceState, Role } from './types.js';

export interface ViewSource {
  config: { hostId: HostId; hostIds: HostId[] };
  role: Role;
  decision: Decision | null;
  detector: Detector;
}

/** `ownResources`: this host's resources as shown (Resources.shownStates); `nowMs`: the engine's latest step. */
export function buildView(engine: ViewSource, ownResources: ResourceState[], nowMs: number): ClusterView {
  const d = engine.decision;
  const self = engine.config.hostId;
  const hosts = engine.config.hostIds.map((hostId) => {
    if (hostId === self) {
      const online = engine.role !== 'evicted' && engine.role !== 'leaving';
      return { hostId, target: 'online' as const, state: online ? ('online' as const) : ('offline' as const), resources: ownResources };
    }
    const peer = engine.detector.peer(hostId);
    const online =
      peer !== undefined &&
      engine.detector.diskLive(hostId) &&
      peer.payload.role !== 'evicted' &&
      peer.payload.role !== 'leaving';
    const resources =
      peer?.payload.resources.map((r, i) => shownState(r.state, awaitsHb2(peer.payload.flags, i))) ?? ownResources.map((): ResourceState => 'unknown');
    const heartbeatAgeMs = engine.detector.heartbeatAges(hostId, nowMs);
    return { hostId, target: 'online' as const, state: online ? ('online' as const) : ('offline' as const), resources, heartbeatAgeMs };
  });
  return {
    selfId: self,
    role: engine.role,
    epoch: d?.epoch ?? 0,
    masterId: d?.masterId ?? 0,
    members: d?.members ?? [],
    hosts,
  };
}

/** The result of the daemon's `status` command. */
export interface StatusResult extends ClusterView {
  /** Resource names in configured order: the "<name> Master ID" and "<name>" columns. */
  resources: string[];
  /** Per resource, the host where it is primary; 0 = none. */
  resourceMasters: Array<HostId | 0>;
}

/** Builds the `status` result from the engine's view: resource i's master is the host where it is primary. */
export function statusFromView(view: ClusterView, resources: string[]): StatusResult {
  const resourceMasters = resources.map((_, i) => {
    const primaries = view.hosts.filter((h) => h.state === 'online' && h.resources[i] === 'primary');
    return primaries.length === 1 ? (primaries[0]?.hostId ?? 0) : 0; // two claimants: show none, never guess
  });
  return { ...view, resources: [...resources], resourceMasters };
}
