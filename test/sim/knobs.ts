// Everything a run varies, drawn from its seed alone: cluster size, disks, timeouts
// variant, clock-rate skews, latency distributions and fault odds. Printing the knobs of
// a seed is enough to understand what a failing run was exercising.
import { Prng } from './prng.js';

export type Mode = 'sweep' | 'scale';

export interface NetKnobs {
  lossOdds: number;
  dupOdds: number;
  delayTypicalMs: number;
  delayTailMs: number;
  delayTailOdds: number;
}

export interface DiskKnobs {
  latencyTypicalMs: number;
  latencyTailMs: number;
  latencyTailOdds: number;
  /** Odds that a failed write leaves the sector torn (reads as 'crc-mismatch'). */
  tornOdds: number;
}

export interface Knobs {
  seed: number;
  mode: Mode;
  hostCount: number;
  diskCount: 1 | 3 | 5;
  resourceCount: number;
  fencing: 'pr' | 'none';
  timeoutsVariant: number;
  /** Per host clock rate skew as a fraction of rho, in [-1, 1]. */
  skewFractions: number[];
  net: NetKnobs;
  disk: DiskKnobs;
  /** Faults are injected in [warmupMs, healAtMs); at healAtMs every fault is healed. */
  warmupMs: number;
  healAtMs: number;
  faultCount: number;
  /** Odds that a register or reserve meets a session reset during the fault phase (test/sim/fence.ts). */
  sessionResetOdds: number;
  /** Odds that a fault targets the current master rather than a random host. */
  masterBias: number;
  /** etcd mode only: the store's latencies (drawn from a stream of their own). */
  etcd?: EtcdKnobs;
}

/** etcd mode: the client-to-etcd messages (each way) and the lease TTL of the timeouts variant. */
export interface EtcdKnobs {
  ttlMs: number;
  lossOdds: number;
  delayTypicalMs: number;
  delayTailMs: number;
  delayTailOdds: number;
}

/** From a stream of its own, so the disk-mode knobs of every seed stay as they were. */
export function drawEtcdKnobs(seed: number, ttlMs: number): EtcdKnobs {
  const rng = new Prng(seed, 11);
  return {
    ttlMs,
    lossOdds: rng.pick([0, 0, 0.005, 0.02]),
    delayTypicalMs: rng.pick([0.3, 1, 2]),
    delayTailMs: rng.pick([50, 200, 400]),
    delayTailOdds: rng.pick([0, 0.01, 0.03]),
  };
}

export interface KnobLimits {
  timeoutVariants: number;
  /** Simulated length of the fault phase, before the liveness phase. */
  faultPhaseMs: number;
}

function drawHostCount(rng: Prng, mode: Mode): number {
  if (mode === 'scale') return rng.pick([64, 255]);
  // Small clusters are where arbitration ties and quorum edges live; keep most runs small
  // so CI covers many seeds, but reach 16.
  // Large clusters cost O(n^2) per simulated second, so they are a small share.
  const r = rng.float();
  if (r < 0.2) return rng.int(1, 2);
  if (r < 0.82) return rng.int(3, 5);
  if (r < 0.95) return rng.int(6, 9);
  return rng.int(10, 16);
}

export function drawKnobs(seed: number, mode: Mode, limits: KnobLimits): Knobs {
  const rng = new Prng(seed, 1);
  const hostCount = drawHostCount(rng, mode);
  const diskCount = rng.pick([1, 1, 3, 3, 5] as const);
  const skewFractions = Array.from({ length: hostCount }, () => rng.pick([-1, 1, rng.range(-1, 1)]));
  const calm = rng.chance(0.1); // some runs with no faults at all: the baseline must hold
  return {
    seed,
    mode,
    hostCount,
    diskCount,
    resourceCount: rng.int(1, 2),
    fencing: rng.chance(0.5) ? 'pr' : 'none',
    timeoutsVariant: rng.chance(0.5) ? 0 : rng.int(0, limits.timeoutVariants - 1),
    skewFractions,
    net: {
      lossOdds: rng.pick([0, 0, 0.01, 0.05, 0.2]),
      dupOdds: rng.pick([0, 0.01, 0.1]),
      delayTypicalMs: rng.pick([0.2, 1, 5]),
      delayTailMs: rng.pick([10, 100, 800]),
      delayTailOdds: rng.pick([0, 0.01, 0.05]),
    },
    disk: {
      latencyTypicalMs: rng.pick([0.3, 1, 4]),
      latencyTailMs: rng.pick([20, 150, 600]),
      latencyTailOdds: rng.pick([0, 0.005, 0.02]),
      tornOdds: rng.pick([0, 0.2, 0.5]),
    },
    warmupMs: rng.int(2_000, 6_000),
    healAtMs: limits.faultPhaseMs,
    faultCount: calm ? 0 : mode === 'scale' ? rng.int(1, 2) : rng.int(1, 8),
    sessionResetOdds: calm ? 0 : 0.03, // not drawn: the other knobs' draws stay as they were
    masterBias: rng.pick([0.3, 0.6, 0.9]),
  };
}

export function describeKnobs(k: Knobs): string {
  const e = k.etcd;
  if (e !== undefined) {
    return (
      `seed=${k.seed} mode=${k.mode} arbitration=etcd hosts=${k.hostCount} resources=${k.resourceCount} ` +
      `fencing=${k.fencing} timeouts=v${k.timeoutsVariant} ttl=${e.ttlMs}ms faults=${k.faultCount} ` +
      `net(loss=${k.net.lossOdds} dup=${k.net.dupOdds} tail=${k.net.delayTailMs}ms@${k.net.delayTailOdds}) ` +
      `etcd(loss=${e.lossOdds} lat=${e.delayTypicalMs}ms tail=${e.delayTailMs}ms@${e.delayTailOdds}) heal=${k.healAtMs}ms`
    );
  }
  return (
    `seed=${k.seed} mode=${k.mode} hosts=${k.hostCount} disks=${k.diskCount} resources=${k.resourceCount} ` +
    `fencing=${k.fencing} timeouts=v${k.timeoutsVariant} faults=${k.faultCount} ` +
    `net(loss=${k.net.lossOdds} dup=${k.net.dupOdds} tail=${k.net.delayTailMs}ms@${k.net.delayTailOdds}) ` +
    `disk(lat=${k.disk.latencyTypicalMs}ms tail=${k.disk.latencyTailMs}ms@${k.disk.latencyTailOdds} torn=${k.disk.tornOdds}) ` +
    `heal=${k.healAtMs}ms`
  );
}
