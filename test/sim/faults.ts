// Fault injection. Every fault is a value (`Fault`) with all of its parameters resolved,
// and applyFault() is the one place each fault's effect lives: the random schedule of a
// sweep run draws a Fault at the moment it fires (drawFault, from the run's fault stream,
// biased towards the current master), a scripted run (script.ts) reads them from a list.
// healAll() ends every fault at once: the liveness phase starts from there.
import { applyEtcdFault, drawEtcdFault, isEtcdFault, type EtcdFault } from './etcd-faults.js';
import type { SimHost } from './host.js';
import { crashDb, hangDb } from './resources.js';
import type { World } from './world.js';

/** The kinds a sweep draws (the order is part of every seed's schedule: append only). */
export const FAULT_KINDS = [
  'crash',
  'pause',
  'stall',
  'disk-stall',
  'disk-errors',
  'disk-loss',
  'partition',
  'asym-partition',
  'net-burst',
  'db-crash',
  'clock-rate',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Share of drawn stalls that are wedges of the ycs engine instead (see drawFault). */
const WEDGE_ODDS = 0.3;

export type Fault =
  | { kind: 'crash'; host: number; downMs: number | null; powerLoss: boolean } // downMs null: stays down until restarted or healed
  | { kind: 'restart'; host: number } // starts ycs again (a crashed host, or only its ycs)
  | { kind: 'ycs-crash'; host: number; downMs: number | null } // kill -9 of ycs alone: databases run on, ycsm restarts it
  | { kind: 'pause'; host: number; durationMs: number } // the whole host frozen (false death)
  | { kind: 'stall'; host: number; durationMs: number } // ycs merely slow: at most the spike the timeouts tolerate
  | { kind: 'wedge'; host: number; durationMs: number } // ycs stuck for any time; host, databases and heartbeat-2 acks live on
  // I/O hangs (hosts null: every host); endsByHeal: never past the heal
  | { kind: 'disk-stall'; disk: number | 'all'; hosts: number[] | null; durationMs: number; endsByHeal?: boolean }
  | { kind: 'disk-errors'; disk: number | 'all'; hosts: number[] | null; durationMs: number } // I/O fails
  | { kind: 'partition'; links: Array<[number, number]>; durationMs: number } // directed links that drop everything
  | { kind: 'net-burst'; durationMs: number; lossOdds: number; extraDelayMs: number }
  | { kind: 'db-crash'; host: number; resource: number } // the database process dies: ycs sees its socket close
  | { kind: 'db-hang'; host: number; resource: number } // the database hangs: heartbeat 2 goes silent
  | { kind: 'clock-rate'; host: number; fraction: number }
  | { kind: 'heal' }
  | EtcdFault; // etcd mode (etcd-faults.ts)

export function pickVictim(w: World): SimHost {
  const rng = w.rng.faults;
  const master = w.hosts.find((h) => h.alive && h.role === 'master');
  if (master && rng.chance(w.knobs.masterBias)) return master;
  return rng.pick(w.hosts);
}

/** Every directed link between hosts on different sides. */
export function linksBetween(sides: number[][]): Array<[number, number]> {
  const sideOf = new Map<number, number>();
  sides.forEach((side, i) => side.forEach((h) => sideOf.set(h, i)));
  const links: Array<[number, number]> = [];
  for (const [a, sa] of sideOf) for (const [b, sb] of sideOf) if (sa !== sb) links.push([a, b]);
  return links;
}

/** Carries out one fault now. */
export function applyFault(w: World, f: Fault): void {
  if (isEtcdFault(f)) return applyEtcdFault(w, f);
  switch (f.kind) {
    case 'crash': {
      const h = w.host(f.host);
      h.crash(f.powerLoss);
      if (f.downMs !== null && w.now + f.downMs < w.knobs.healAtMs) {
        w.after(f.downMs, { code: 'restart', host: 0, gate: 'none', inc: -1, run: () => void (h.alive || h.start()) });
      }
      return;
    }
    case 'restart':
      return void (w.host(f.host).startable && w.host(f.host).start());
    case 'ycs-crash': {
      const h = w.host(f.host);
      h.crashYcs();
      if (f.downMs !== null && w.now + f.downMs < w.knobs.healAtMs) {
        w.after(f.downMs, { code: 'restart', host: 0, gate: 'none', inc: -1, run: () => void (h.startable && h.start()) });
      }
      return;
    }
    case 'pause':
      return w.host(f.host).freeze(f.durationMs, true);
    case 'stall':
      return w.host(f.host).freeze(f.durationMs, false);
    case 'wedge':
      return w.host(f.host).freeze(f.durationMs, false, true);
    case 'disk-stall':
    case 'disk-errors':
      for (const d of f.disk === 'all' ? w.disks : [w.disks[f.disk]!]) {
        const endMs = w.now + f.durationMs;
        const untilMs = f.kind === 'disk-stall' && f.endsByHeal === true ? Math.min(endMs, w.knobs.healAtMs) : endMs;
        const window = { hosts: f.hosts === null ? null : new Set(f.hosts), fromMs: w.now, untilMs };
        (f.kind === 'disk-stall' ? d.stalls : d.errors).push(window);
      }
      return;
    case 'partition':
      return w.net.block(f.links, f.durationMs);
    case 'net-burst':
      return w.net.addBurst(f.durationMs, f.lossOdds, f.extraDelayMs);
    case 'db-crash':
      return crashDb(w, w.host(f.host), f.resource);
    case 'db-hang':
      return hangDb(w.host(f.host), f.resource);
    case 'clock-rate':
      return w.host(f.host).setRateFraction(f.fraction);
    case 'heal':
      return healAll(w);
  }
}

/** The random schedule's next fault, drawn now from the run's fault stream. */
export function drawFault(w: World): { fault: Fault; kind: FaultKind; victim: SimHost } {
  const rng = w.rng.faults;
  const t = w.timeouts;
  const kind = rng.pick(FAULT_KINDS);
  const victim = pickVictim(w);
  const host = victim.id;
  const span = (lo: number, hi: number) => rng.range(lo, hi);
  const fault = ((): Fault => {
    switch (kind) {
      case 'crash': {
        const downMs = rng.chance(0.5) ? span(200, 3_000) : span(3_000, 30_000);
        return { kind, host, downMs, powerLoss: rng.chance(0.2) };
      }
      case 'pause': // false death: longer than every timeout, then the host resumes as it was
        return { kind, host, durationMs: span(1.2, 5) * t.keepAliveMs };
      case 'stall': {
        // a merely slow host: must not be evicted for this. Some stalls are a wedge
        // instead, drawn from a stream of its own so that every other seed's schedule
        // stays as it was before wedges existed.
        const durationMs = span(20, t.maxSlowMs);
        const wedge = w.rng.wedge;
        if (w.options.faultModel !== 1 && wedge.chance(WEDGE_ODDS)) return { kind: 'wedge', host, durationMs: wedge.range(1.2, 5) * t.keepAliveMs };
        return { kind, host, durationMs };
      }
      case 'disk-stall': {
        const disk = rng.pick(w.disks).index;
        const hosts = rng.chance(0.5) ? null : [host];
        // Stuck I/O ends by the heal, so the liveness phase starts from working disks.
        return { kind, disk, hosts, durationMs: span(50, 2 * t.keepAliveMs), endsByHeal: true };
      }
      case 'disk-errors': {
        const disk = rng.pick(w.disks).index;
        const hosts = rng.chance(0.3) ? null : [host];
        return { kind, disk, hosts, durationMs: span(50, 2 * t.keepAliveMs) };
      }
      case 'disk-loss':
        return { kind: 'disk-errors', disk: 'all', hosts: [host], durationMs: span(1, 4) * t.keepAliveMs };
      case 'partition':
        if (rng.chance(0.5)) {
          const durationMs = span(500, 15_000);
          return { kind, links: linksBetween([[host], w.hosts.filter((h) => h.id !== host).map((h) => h.id)]), durationMs };
        }
        return drawPartition(w, true);
      case 'asym-partition':
        return drawPartition(w, false);
      case 'net-burst':
        return { kind, durationMs: span(200, 5_000), lossOdds: rng.range(0.3, 1), extraDelayMs: rng.chance(0.5) ? 0 : rng.range(0, 1_500) };
      case 'db-crash':
        return { kind, host, resource: rng.int(0, w.resources.length - 1) };
      case 'clock-rate':
        return { kind, host, fraction: rng.range(-1, 1) };
    }
  })();
  return { fault, kind, victim };
}

/** Hosts on 2 or 3 random sides; an asymmetric partition drops each crossing link with odds 1/2. */
function drawPartition(w: World, symmetric: boolean): Fault {
  const rng = w.rng.faults;
  const durationMs = rng.range(500, 15_000);
  const sideOf = new Map<number, number>();
  const sides = rng.int(2, 3);
  for (const h of w.hosts) sideOf.set(h.id, rng.int(0, sides - 1));
  const links: Array<[number, number]> = [];
  for (const a of w.hosts) {
    for (const b of w.hosts) {
      if (a.id === b.id || sideOf.get(a.id) === sideOf.get(b.id)) continue;
      if (symmetric || rng.chance(0.5)) links.push([a.id, b.id]);
    }
  }
  return { kind: 'partition', links, durationMs };
}

export function injectRandomFault(w: World): void {
  if (w.etcd !== null) {
    const { fault, kind, host } = drawEtcdFault(w);
    w.trace.note(w.now, host, `fault-${fault.kind === 'wedge' ? 'wedge' : kind}`, () => JSON.stringify(fault));
    return applyFault(w, fault);
  }
  const { fault, kind, victim } = drawFault(w);
  w.trace.note(w.now, victim.id, `fault-${fault.kind === 'wedge' ? 'wedge' : kind}`);
  applyFault(w, fault);
}

/** End every fault now: links, disks, freezes; crashed hosts start a new incarnation. */
export function healAll(w: World): void {
  w.net.heal();
  w.etcd?.heal();
  for (const d of w.disks) d.healAt(w.now);
  for (const h of w.hosts) {
    if (h.alive) h.thawNow();
    if (h.startable) h.start();
  }
}
