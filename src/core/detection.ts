// Failure detection. Disk heartbeat: a peer is live while its (incarnation, sequence)
// keeps changing, timed with the reader's own clock (sanlock's host_live rule), never
// with a timestamp written by the peer. Network heartbeat 1: a peer is heard while a
// fresh message from it arrived within NETWORK_HB_TIMEOUT.
//
// Staleness is judged only against reads *issued* after the last change was seen: a
// reader that was paused does not declare its peers dead, it re-reads first.

import { assert } from './assert.js';
import type { HostSnapshot } from './decide.js';
import type { HeartbeatPayload, HostId, NetHeartbeat, Role, SlotRead } from './types.js';

export interface PeerState {
  hostId: HostId;
  incarnation: number;
  sequence: number;
  payload: HeartbeatPayload;
  /** Own clock: when a read first showed the current (incarnation, sequence). */
  lastChangeAtMs: number;
  lastHeardAtMs: number | null;
  netIncarnation: number;
  netSequence: number;
  netRole: Role | null;
  netEpoch: number;
  /** Peers this host reports hearing, from whichever of disk or network told us last. */
  heard: HostId[];
  heardAtMs: number;
  /** Highest incarnation seen on the disk or the network. */
  knownIncarnation: number;
  /** Own clock: when a newer incarnation than a known one was first seen (the peer's ycs restarted). */
  restartedAtMs: number | null;
  /** What the peer reported hearing just before it restarted. */
  heardBeforeRestart: HostId[];
}

export class Detector {
  private readonly peers = new Map<HostId, PeerState>();
  /** Issue time of the latest read round that succeeded on a majority. */
  private judgedThroughMs: number | null = null;
  /** Bumped whenever network liveness changes, so heardSet can be cached within one step. */
  private version = 0;
  private heardCache: { atMs: number; version: number; value: HostId[] } | null = null;

  constructor(
    private readonly selfId: HostId,
    private readonly keepAliveMs: number,
    private readonly netTimeoutMs: number,
  ) {}

  /** Ms since the peer's disk heartbeat last changed and since its last network heartbeat (null: never seen). */
  heartbeatAges(hostId: HostId, nowMs: number): { disk: number | null; net: number | null } {
    const peer = this.peers.get(hostId);
    const age = (at: number | null | undefined): number | null => (at === null || at === undefined ? null : Math.max(0, nowMs - at));
    return { disk: age(peer?.lastChangeAtMs), net: age(peer?.lastHeardAtMs) };
  }

  onHeartbeatSlots(nowMs: number, slots: SlotRead<HeartbeatPayload>[]): void {
    for (const slot of slots) {
      const record = slot.record;
      if (slot.verdict !== 'ok' || record === undefined) continue;
      if (record.hostId !== slot.hostId || record.hostId === this.selfId) continue;
      const peer = this.peers.get(record.hostId);
      if (peer === undefined) {
        this.peers.set(record.hostId, {
          hostId: record.hostId,
          incarnation: record.incarnation,
          sequence: record.sequence,
          payload: record.payload,
          lastChangeAtMs: nowMs,
          lastHeardAtMs: null,
          netIncarnation: 0,
          netSequence: 0,
          netRole: null,
          netEpoch: 0,
          heard: record.payload.heard,
          heardAtMs: nowMs,
          knownIncarnation: record.incarnation,
          restartedAtMs: null,
          heardBeforeRestart: [],
        });
        continue;
      }
      const newer =
        record.incarnation > peer.incarnation ||
        (record.incarnation === peer.incarnation && record.sequence > peer.sequence);
      if (!newer) continue;
      assert(nowMs >= peer.lastChangeAtMs, () => `host ${peer.hostId}'s sequence changed before the last change it replaces`);
      this.noteIncarnation(peer, record.incarnation, nowMs);
      peer.incarnation = record.incarnation;
      peer.sequence = record.sequence;
      peer.payload = record.payload;
      peer.lastChangeAtMs = nowMs;
      peer.heard = record.payload.heard;
      peer.heardAtMs = nowMs;
    }
  }

  onNetHeartbeat(nowMs: number, message: NetHeartbeat): void {
    if (message.from === this.selfId) return;
    const peer = this.peers.get(message.from);
    if (peer === undefined) return; // known from the disk first: the disk is the membership authority
    const newer =
      message.incarnation > peer.netIncarnation ||
      (message.incarnation === peer.netIncarnation && message.sequence > peer.netSequence);
    if (!newer) return; // duplicate, replayed or reordered
    assert(peer.lastHeardAtMs === null || nowMs >= peer.lastHeardAtMs, () => `host ${peer.hostId} heard at ${nowMs} before ${peer.lastHeardAtMs}`);
    this.noteIncarnation(peer, message.incarnation, nowMs);
    this.version += 1;
    peer.netIncarnation = message.incarnation;
    peer.netSequence = message.sequence;
    peer.lastHeardAtMs = nowMs;
    peer.netRole = message.role;
    peer.netEpoch = message.epoch;
    peer.heard = message.heard;
    peer.heardAtMs = nowMs;
  }

  /**
   * A newer incarnation than any seen before: the peer's ycs restarted (ycsm restarts it
   * after a crash). Its first messages say 'starting' and hear nobody; that is no news
   * about the host, so for a while it is judged by its disk record instead (restartGrace).
   */
  private noteIncarnation(peer: PeerState, incarnation: number, nowMs: number): void {
    if (incarnation <= peer.knownIncarnation) return;
    peer.knownIncarnation = incarnation;
    peer.restartedAtMs = nowMs;
    peer.heardBeforeRestart = peer.heard;
  }

  /**
   * Within NETWORK_HB_TIMEOUT of a peer's restart, while its disk heartbeat is live, the
   * decision functions see its disk role (not the network's 'starting') and the peers it
   * heard before the restart as well as those it hears now. After that it is judged
   * as usual: a restart that does not come back in time still fails the host.
   */
  inRestartGrace(hostId: HostId, nowMs: number): boolean {
    const peer = this.peers.get(hostId);
    if (peer === undefined || peer.restartedAtMs === null) return false;
    return nowMs - peer.restartedAtMs < this.netTimeoutMs && this.diskLive(hostId);
  }

  onReadRoundSucceeded(issuedAtMs: number): void {
    this.judgedThroughMs = Math.max(this.judgedThroughMs ?? issuedAtMs, issuedAtMs);
  }

  /** After a pause, peers that were heard just before it get the benefit of the doubt. */
  onPause(lastStepMs: number, nowMs: number): void {
    this.version += 1;
    for (const peer of this.peers.values()) {
      if (peer.lastHeardAtMs !== null && lastStepMs - peer.lastHeardAtMs <= this.netTimeoutMs) {
        peer.lastHeardAtMs = nowMs;
      }
    }
  }

  peer(hostId: HostId): PeerState | undefined {
    return this.peers.get(hostId);
  }

  /** Live on the disk: its sequence changed within the keep-alive, judged by a read issued later. */
  diskLive(hostId: HostId): boolean {
    const peer = this.peers.get(hostId);
    if (peer === undefined) return false;
    if (this.judgedThroughMs === null) return true;
    return this.judgedThroughMs - peer.lastChangeAtMs <= this.keepAliveMs;
  }

  /** A peer as the decision functions see it; `heard` is this host's current heard set. */
  hostSnapshot(hostId: HostId, heard: HostId[], nowMs: number): HostSnapshot | undefined {
    const peer = this.peers.get(hostId);
    if (peer === undefined) return undefined;
    const recentlyHeard = heard.includes(hostId);
    const grace = this.inRestartGrace(hostId, nowMs);
    // The network message is fresher than the disk sector when it arrived later.
    const netIsNewer = !grace && recentlyHeard && peer.netRole !== null && peer.heardAtMs > peer.lastChangeAtMs;
    return {
      hostId,
      diskLive: this.diskLive(hostId),
      netJoining: recentlyHeard && peer.netRole === 'starting',
      role: netIsNewer && peer.netRole !== null ? peer.netRole : peer.payload.role,
      epoch: peer.payload.epoch,
      flags: peer.payload.flags,
      heard: grace ? union(peer.heard, peer.heardBeforeRestart) : peer.heard,
    };
  }

  heardSet(nowMs: number): HostId[] {
    if (this.heardCache !== null && this.heardCache.atMs === nowMs && this.heardCache.version === this.version) {
      return this.heardCache.value;
    }
    const value = this.computeHeardSet(nowMs);
    this.heardCache = { atMs: nowMs, version: this.version, value };
    return value;
  }

  private computeHeardSet(nowMs: number): HostId[] {
    const out: HostId[] = [];
    for (const peer of this.peers.values()) {
      if (peer.lastHeardAtMs !== null && nowMs - peer.lastHeardAtMs <= this.netTimeoutMs) out.push(peer.hostId);
    }
    assert(!out.includes(this.selfId), 'a host never hears itself');
    return out.sort((a, b) => a - b);
  }
}

function union(a: HostId[], b: HostId[]): HostId[] {
  return [...new Set([...a, ...b])].sort((x, y) => x - y);
}
