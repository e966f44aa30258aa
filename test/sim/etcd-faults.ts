// etcd mode's faults: the host faults of disk mode (no voting disk here, so no disk
// faults) with freezes and wedges shorter and longer than the lease TTL, and the faults
// of the store: one host's etcd messages lost or late (a burst), one host or every host
// cut off from etcd (it still reaches its peers over the network), an etcd member killed
// and restarted (the Raft leader or a follower; two down at once lose the majority), and
// a Raft leader change (no leader serves for an election time, leases only get longer).
import type { Fault } from './faults.js';
import { linksBetween, pickVictim } from './faults.js';
import { ETCD_MEMBERS } from './etcd.js';
import type { World } from './world.js';

/** The kinds an etcd-mode sweep draws (the order is part of every seed's schedule: append only). */
export const ETCD_FAULT_KINDS = [
  'crash',
  'pause',
  'stall',
  'ycs-crash',
  'db-crash',
  'partition',
  'net-burst',
  'clock-rate',
  'etcd-burst',
  'etcd-cut',
  'etcd-cut-all',
  'etcd-member',
  'etcd-leader',
] as const;
export type EtcdFaultKind = (typeof ETCD_FAULT_KINDS)[number];

export type EtcdFault =
  // hosts null: every host; lossOdds 1: cut off from etcd
  | { kind: 'etcd-burst'; hosts: number[] | null; durationMs: number; lossOdds: number; extraDelayMs: number }
  | { kind: 'etcd-member'; member: number; downMs: number }
  | { kind: 'etcd-leader'; electionMs: number };

const WEDGE_ODDS = 0.3;

export function isEtcdFault(f: Fault): f is EtcdFault {
  return f.kind === 'etcd-burst' || f.kind === 'etcd-member' || f.kind === 'etcd-leader';
}

export function applyEtcdFault(w: World, f: EtcdFault): void {
  const e = w.etcd;
  if (e === null) throw new Error(`${f.kind} outside etcd mode`);
  switch (f.kind) {
    case 'etcd-burst':
      return e.disturb(f.hosts, f.durationMs, f.lossOdds, f.extraDelayMs);
    case 'etcd-member':
      e.model.killMember(f.member, w.now);
      w.after(f.downMs, { code: 'etcd-member-start', host: 0, gate: 'none', inc: -1, run: () => e.model.startMember(f.member, w.now) });
      return;
    case 'etcd-leader':
      return e.model.leaderChange(w.now, f.electionMs);
  }
}

/** The random schedule's next fault in etcd mode, drawn now from the run's fault stream. */
export function drawEtcdFault(w: World): { fault: Fault; kind: EtcdFaultKind; host: number } {
  const rng = w.rng.faults;
  const t = w.timeouts;
  const ttl = w.etcd?.knobs.ttlMs ?? 3_000;
  const kind = rng.pick(ETCD_FAULT_KINDS);
  const host = pickVictim(w).id;
  const span = (lo: number, hi: number) => rng.range(lo, hi);
  const fault = ((): Fault => {
    switch (kind) {
      case 'crash':
        return { kind, host, downMs: rng.chance(0.5) ? span(200, 3_000) : span(3_000, 20_000), powerLoss: rng.chance(0.2) };
      case 'pause': // false death, shorter or longer than the TTL
        return { kind, host, durationMs: span(0.2, 2.5) * ttl };
      case 'stall': {
        const durationMs = span(20, t.maxSlowMs);
        if (w.rng.wedge.chance(WEDGE_ODDS)) return { kind: 'wedge', host, durationMs: w.rng.wedge.range(0.2, 2.5) * ttl };
        return { kind, host, durationMs };
      }
      case 'ycs-crash':
        return { kind, host, downMs: rng.chance(0.8) ? span(200, 5_000) : null };
      case 'db-crash':
        return { kind, host, resource: rng.int(0, w.resources.length - 1) };
      case 'partition': // the hosts' network only: etcd stays reachable
        return { kind, links: linksBetween([[host], w.hosts.filter((h) => h.id !== host).map((h) => h.id)]), durationMs: span(500, 15_000) };
      case 'net-burst':
        return { kind, durationMs: span(200, 5_000), lossOdds: rng.range(0.3, 1), extraDelayMs: rng.chance(0.5) ? 0 : rng.range(0, 1_500) };
      case 'clock-rate':
        return { kind, host, fraction: rng.range(-1, 1) };
      case 'etcd-burst':
        return { kind, hosts: [host], durationMs: span(0.1, 2) * ttl, lossOdds: rng.range(0.3, 0.95), extraDelayMs: rng.chance(0.5) ? 0 : rng.range(0, ttl / 2) };
      case 'etcd-cut':
        return { kind: 'etcd-burst', hosts: [host], durationMs: span(0.2, 3) * ttl, lossOdds: 1, extraDelayMs: 0 };
      case 'etcd-cut-all':
        return { kind: 'etcd-burst', hosts: null, durationMs: span(0.2, 2) * ttl, lossOdds: 1, extraDelayMs: 0 };
      case 'etcd-member':
        return { kind, member: rng.int(0, ETCD_MEMBERS - 1), downMs: span(300, 10_000) };
      case 'etcd-leader':
        return { kind, electionMs: span(300, 1_500) };
    }
  })();
  return { fault, kind, host };
}
