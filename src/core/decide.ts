// What the cluster should look like next, from one host's view: which hosts survive,
// who is master, whether the master is abnormal, and in which order hosts propose.
// Pure functions of a snapshot, so every host computing from the same view proposes the
// same value and the tally (distinguished proposer) is the same host everywhere.

import { assert } from './assert.js';
import { chooseSurvivingGroup, type HeardMap } from './partition.js';
import { HEARTBEAT_FLAG_PROMOTING, type Decision, type HostId, type Role } from './types.js';

export interface HostSnapshot {
  hostId: HostId;
  /** Live on the voting disk (for self: own majority write and read are within the lease). */
  diskLive: boolean;
  /** Heard over the network and asking to join (lets a host fenced at the storage rejoin). */
  netJoining: boolean;
  role: Role;
  epoch: number;
  flags: number;
  heard: HostId[];
}

export interface Snapshot {
  selfId: HostId;
  decision: Decision | null;
  hosts: Map<HostId, HostSnapshot>; // includes self
}

function heardMap(s: Snapshot): HeardMap {
  const map = new Map<HostId, Set<HostId>>();
  for (const h of s.hosts.values()) map.set(h.hostId, new Set(h.heard));
  return map;
}

/** Acting as master, or decided master and about to promote, in the current epoch. */
export function masterCapable(s: Snapshot, hostId: HostId): boolean {
  const h = s.hosts.get(hostId);
  if (h === undefined || s.decision === null) return false;
  if (h.role === 'master') return true;
  // Not caught up with the decision yet: judged by its disk liveness until it is.
  if (h.epoch < s.decision.epoch) return true;
  return (h.flags & HEARTBEAT_FLAG_PROMOTING) !== 0;
}

/** Hosts that may be in the next member set: live and not evicted or leaving. */
export function candidates(s: Snapshot): HostId[] {
  const out: HostId[] = [];
  for (const h of s.hosts.values()) {
    if (h.role === 'evicted' || h.role === 'leaving') continue;
    if (h.diskLive || h.netJoining) out.push(h.hostId);
  }
  out.sort((a, b) => a - b);
  assert(out.every((h, i) => i === 0 || out[i - 1]! < h), () => `candidates not strictly ascending: ${out.join(',')}`);
  return out;
}

/** Why the current master is abnormal from this host's view, or null when it is fine. */
export function masterAbnormality(s: Snapshot): string | null {
  const d = s.decision;
  if (d === null) return null;
  if (d.masterId === s.selfId) {
    return masterCapable(s, s.selfId) ? null : 'this host released the master role';
  }
  const m = s.hosts.get(d.masterId);
  if (m === undefined || !m.diskLive) return `master ${d.masterId} disk heartbeat stale`;
  if (!masterCapable(s, d.masterId)) return `master ${d.masterId} published role ${m.role}`;
  // Only a member judges the master by the network: a host outside the member set that
  // hears nobody is the one cut off, and must not start votes about the others.
  const self = s.hosts.get(s.selfId);
  const connected = (self?.heard.includes(d.masterId) ?? false) && m.heard.includes(s.selfId);
  if (d.members.includes(s.selfId) && !connected) {
    return `master ${d.masterId} network heartbeat lost`;
  }
  return null;
}

/** The decision this host would propose next, or null when the current one still fits. */
export function nextDecision(s: Snapshot): Decision | null {
  const oldMasterId = s.decision?.masterId ?? 0;
  const group = chooseSurvivingGroup(candidates(s), heardMap(s), oldMasterId);
  if (group.length === 0) return null;
  let masterId: HostId | undefined;
  if (oldMasterId !== 0 && group.includes(oldMasterId) && masterCapable(s, oldMasterId)) {
    masterId = oldMasterId; // the seed: prefer the old master while it is online
  } else {
    // A standby of the current epoch, not the master that just released the role.
    const members = s.decision?.members ?? [];
    const standby = (h: HostId): boolean => members.includes(h) && s.hosts.get(h)?.role === 'standby';
    masterId = group.find((h) => h !== oldMasterId && standby(h)) ?? group.find((h) => h !== oldMasterId) ?? group[0];
  }
  if (masterId === undefined) return null;
  const next: Decision = { epoch: (s.decision?.epoch ?? 0) + 1, masterId, members: group };
  assert(next.members.includes(next.masterId), () => `next master ${masterId} outside its member set ${group.join(',')}`);
  const d = s.decision;
  const unchanged = d !== null && d.masterId === next.masterId && d.members.join(',') === next.members.join(',');
  // The same master and members still need a new epoch when that master stopped acting.
  if (unchanged && masterCapable(s, d.masterId)) return null;
  return next;
}

/**
 * Proposer order: the tally (the old master while it is live and acting, else the
 * lowest live member) first, then the other live members, the hosts asking to join,
 * then everyone else.
 */
export function proposerOrder(s: Snapshot): HostId[] {
  const order: HostId[] = [];
  const oldMasterId = s.decision?.masterId ?? 0;
  if (oldMasterId !== 0 && s.hosts.get(oldMasterId)?.diskLive === true && masterCapable(s, oldMasterId)) {
    order.push(oldMasterId);
  }
  const members = s.decision?.members ?? [];
  for (const h of candidates(s)) if (members.includes(h) && !order.includes(h)) order.push(h);
  for (const h of candidates(s)) if (!order.includes(h)) order.push(h);
  for (const h of [...s.hosts.keys()].sort((a, b) => a - b)) if (!order.includes(h)) order.push(h);
  assert(new Set(order).size === order.length, () => `proposer order repeats a host: ${order.join(',')}`);
  return order;
}
