// Lease-store mode: what a host knows of its peers. Liveness comes from network heartbeat 1
// (a peer is online while a fresh message from it arrived within NETWORK_HB_TIMEOUT, on our
// own clock); roles and resource states come from the host records every host publishes
// under the store's prefix. Together they make the same two status tables as disk mode.

import { shownState } from './resources.js';
import type { ClusterView, HostId, HostRecord, NetHeartbeat, ResourceState, Role } from './types.js';

interface Heard {
  incarnation: number;
  sequence: number;
  atMs: number;
}

export class StorePeers {
  private readonly heard = new Map<HostId, Heard>();
  private records = new Map<HostId, HostRecord>();

  constructor(
    private readonly self: HostId,
    private readonly hostIds: HostId[],
    private readonly netTimeoutMs: number,
  ) {}

  onNetHeartbeat(nowMs: number, m: NetHeartbeat): void {
    if (m.from === this.self || !this.hostIds.includes(m.from)) return;
    const last = this.heard.get(m.from);
    const newer = last === undefined || m.incarnation > last.incarnation || (m.incarnation === last.incarnation && m.sequence > last.sequence);
    if (newer) this.heard.set(m.from, { incarnation: m.incarnation, sequence: m.sequence, atMs: nowMs });
  }

  /** The host records of a successful read (our own is ignored: we know better). */
  onRecords(records: HostRecord[]): void {
    this.records = new Map(records.filter((r) => r.hostId !== this.self && this.hostIds.includes(r.hostId)).map((r) => [r.hostId, r]));
  }

  /** After a pause, peers heard just before it get the benefit of the doubt. */
  onPause(lastStepMs: number, nowMs: number): void {
    for (const h of this.heard.values()) if (lastStepMs - h.atMs <= this.netTimeoutMs) h.atMs = nowMs;
  }

  heardSet(nowMs: number): HostId[] {
    return [...this.heard].filter(([, h]) => nowMs - h.atMs <= this.netTimeoutMs).map(([id]) => id).sort((a, b) => a - b);
  }

  /** `own.resources`: this host's resources as shown (Resources.shownStates). */
  view(nowMs: number, own: { role: Role; epoch: number; masterId: HostId | 0; resources: ResourceState[] }): ClusterView {
    const heard = this.heardSet(nowMs);
    const hosts = this.hostIds.map((hostId) => {
      if (hostId === this.self) {
        const online = own.role !== 'evicted' && own.role !== 'leaving';
        return { hostId, target: 'online' as const, state: online ? ('online' as const) : ('offline' as const), resources: own.resources };
      }
      const record = this.records.get(hostId);
      const online = heard.includes(hostId) && record !== undefined && record.role !== 'leaving' && record.role !== 'evicted';
      const awaiting = new Set(record?.awaitingHb2 ?? []);
      const resources = record?.resources.map((state, i) => shownState(state, awaiting.has(i))) ?? own.resources.map((): ResourceState => 'unknown');
      const heardAtMs = this.heard.get(hostId)?.atMs;
      const heartbeatAgeMs = { disk: null, net: heardAtMs === undefined ? null : Math.max(0, nowMs - heardAtMs) };
      return { hostId, target: 'online' as const, state: online ? ('online' as const) : ('offline' as const), resources, heartbeatAgeMs };
    });
    // Every configured host is a member: the store decides only who is master.
    return { selfId: this.self, role: own.role, epoch: own.epoch, masterId: own.masterId, members: [...this.hostIds], hosts };
  }
}
