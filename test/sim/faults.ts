// Fault injection. The random schedule of a sweep run draws each fault's kind, victim and
// size at the moment it fires (from the run's fault stream), biased towards the current
// master. heal() ends every fault at once: the liveness phase starts from there.
import type { SimHost } from './host.js';
import { crashDb } from './resources.js';
import type { World } from './world.js';

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

/** Share of drawn stalls that are wedges of the ycs engine instead (see 'stall'). */
const WEDGE_ODDS = 0.3;

export function pickVictim(w: World): SimHost {
  const rng = w.rng.faults;
  const master = w.hosts.find((h) => h.alive && h.role === 'master');
  if (master && rng.chance(w.knobs.masterBias)) return master;
  return rng.pick(w.hosts);
}

function restartLater(w: World, h: SimHost, downMs: number): void {
  if (w.now + downMs >= w.knobs.healAtMs) return; // heal restarts it
  w.after(downMs, { code: 'restart', host: 0, gate: 'none', inc: -1, run: () => void (h.alive || h.start()) });
}

export function crashHost(w: World, h: SimHost, downMs: number, powerLoss: boolean): void {
  h.crash(powerLoss);
  restartLater(w, h, downMs);
}

/** Every host except `victim` on one side: the victim can neither send nor hear. */
export function isolate(w: World, victim: number, durationMs: number): void {
  const links: Array<[number, number]> = [];
  for (const h of w.hosts) if (h.id !== victim) links.push([victim, h.id], [h.id, victim]);
  w.net.block(links, durationMs);
}

export function loseAllDisks(w: World, h: SimHost, durationMs: number): void {
  for (const d of w.disks) d.errors.push({ hosts: new Set([h.id]), fromMs: w.now, untilMs: w.now + durationMs });
}

function partition(w: World, durationMs: number, symmetric: boolean): void {
  const rng = w.rng.faults;
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
  w.net.block(links, durationMs);
}

export function injectRandomFault(w: World): void {
  const rng = w.rng.faults;
  const t = w.timeouts;
  const kind = rng.pick(FAULT_KINDS);
  const victim = pickVictim(w);
  const span = (lo: number, hi: number) => rng.range(lo, hi);
  w.trace.note(w.now, victim.id, `fault-${kind}`);
  switch (kind) {
    case 'crash':
      return crashHost(w, victim, rng.chance(0.5) ? span(200, 3_000) : span(3_000, 30_000), rng.chance(0.2));
    case 'pause': // false death: longer than every timeout, then the host resumes as it was
      return victim.freeze(span(1.2, 5) * t.keepAliveMs, true);
    case 'stall': {
      // a merely slow host: must not be evicted for this
      const stallMs = span(20, t.maxSlowMs);
      // Some stalls are a wedge instead: ycs stuck past every timeout while its host, its
      // databases and the heartbeat-2 acks live on. Drawn from a stream of its own, so the
      // seeds of every other fault schedule stay as they were before wedges existed.
      const wedge = w.rng.wedge;
      if (wedge.chance(WEDGE_ODDS)) return victim.freeze(wedge.range(1.2, 5) * t.keepAliveMs, false, true);
      return victim.freeze(stallMs, false);
    }
    case 'disk-stall': {
      const d = rng.pick(w.disks);
      const hosts = rng.chance(0.5) ? null : new Set([victim.id]);
      // Stuck I/O ends by the heal, so the liveness phase starts from working disks.
      d.stalls.push({ hosts, fromMs: w.now, untilMs: Math.min(w.now + span(50, 2 * t.keepAliveMs), w.knobs.healAtMs) });
      return;
    }
    case 'disk-errors': {
      const d = rng.pick(w.disks);
      const hosts = rng.chance(0.3) ? null : new Set([victim.id]);
      d.errors.push({ hosts, fromMs: w.now, untilMs: w.now + span(50, 2 * t.keepAliveMs) });
      return;
    }
    case 'disk-loss':
      return loseAllDisks(w, victim, span(1, 4) * t.keepAliveMs);
    case 'partition':
      return rng.chance(0.5) ? isolate(w, victim.id, span(500, 15_000)) : partition(w, span(500, 15_000), true);
    case 'asym-partition':
      return partition(w, span(500, 15_000), false);
    case 'net-burst':
      return w.net.addBurst(span(200, 5_000), rng.range(0.3, 1), rng.chance(0.5) ? 0 : rng.range(0, 1_500));
    case 'db-crash':
      return crashDb(w, victim, rng.int(0, w.resources.length - 1));
    case 'clock-rate':
      return victim.setRateFraction(rng.range(-1, 1));
  }
}

/** End every fault now: links, disks, freezes; crashed hosts start a new incarnation. */
export function healAll(w: World): void {
  w.net.heal();
  for (const d of w.disks) d.healAt(w.now);
  for (const h of w.hosts) {
    if (h.alive) h.thawNow();
    else h.start();
  }
}
