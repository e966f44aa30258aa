// The failover report: for each fault kind, many short runs of a healthy cluster with the
// default timeouts (variant 0) and quiet disks and network; once a master is stable the
// fault hits, and we time it (real, simulated time) until a different host is promoted.
// For a standby crash there is no new master: we time until a decision evicts it.
import type { EngineBinding } from './binding.js';
import { applyFault, linksBetween } from './faults.js';
import type { SimHost } from './host.js';
import { drawKnobs, type Knobs } from './knobs.js';
import { runChecked } from './sim.js';
import { World } from './world.js';

export const REPORT_KINDS = ['master crash', 'master pause', 'master disk loss', 'partition', 'standby crash'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

export interface Sample {
  ms: number | undefined; // undefined: no failover within the run
  violations: string[];
}

const SETTLE_LIMIT_MS = 30_000;
const FAILOVER_LIMIT_MS = 60_000;

export function reportKnobs(seed: number, binding: EngineBinding, fencing: 'pr' | 'none'): Knobs {
  const k = drawKnobs(seed, 'sweep', { timeoutVariants: binding.timeoutVariants, faultPhaseMs: 1e9 });
  return {
    ...k,
    hostCount: 3 + (seed % 3),
    fencing,
    timeoutsVariant: 0,
    faultCount: 0,
    net: { lossOdds: 0, dupOdds: 0, delayTypicalMs: 0.3, delayTailMs: 5, delayTailOdds: 0.01 },
    disk: { latencyTypicalMs: 1, latencyTailMs: 20, latencyTailOdds: 0.01, tornOdds: 0 },
  };
}

/** Run until an acting master has held for a second; returns it, or undefined. */
export function settle(w: World): SimHost | undefined {
  let since = -1;
  let holder: SimHost | undefined;
  while (w.now < SETTLE_LIMIT_MS && !w.check.failed) {
    runChecked(w, w.now + 100);
    const m = w.check.actingMaster();
    if (m !== holder) {
      holder = m;
      since = w.now;
    } else if (m && w.now - since >= 1_000) return m;
  }
  return undefined;
}

function inject(w: World, kind: ReportKind, master: SimHost): SimHost {
  const long = 1e9;
  switch (kind) {
    case 'master crash':
      applyFault(w, { kind: 'crash', host: master.id, downMs: long, powerLoss: false });
      return master;
    case 'master pause':
      applyFault(w, { kind: 'pause', host: master.id, durationMs: long });
      return master;
    case 'master disk loss':
      applyFault(w, { kind: 'disk-errors', disk: 'all', hosts: [master.id], durationMs: long });
      return master;
    case 'partition': {
      const others = w.hosts.filter((h) => h !== master).map((h) => h.id);
      applyFault(w, { kind: 'partition', links: linksBetween([[master.id], others]), durationMs: long });
      return master;
    }
    case 'standby crash': {
      const standbys = w.hosts.filter((h) => h !== master && h.alive);
      const victim = w.rng.faults.pick(standbys);
      applyFault(w, { kind: 'crash', host: victim.id, downMs: long, powerLoss: false });
      return victim;
    }
  }
}

function measured(w: World, kind: ReportKind, victim: SimHost, faultAtMs: number): number | undefined {
  if (kind === 'standby crash') {
    for (const [epoch, d] of w.check.decided) {
      const at = w.check.decidedAtMs.get(epoch) ?? 0;
      if (at > faultAtMs && !d.members.includes(victim.id)) return at - faultAtMs;
    }
    return undefined;
  }
  const e = w.check.masterEvents.find((m) => m.atMs > faultAtMs && m.host !== victim.id);
  return e ? e.atMs - faultAtMs : undefined;
}

export function failoverSample(seed: number, kind: ReportKind, fencing: 'pr' | 'none', binding: EngineBinding): Sample {
  const w = new World(reportKnobs(seed, binding, fencing), binding, { trace: false });
  for (const h of w.hosts) w.at(w.rng.host.range(0, 500), { code: 'boot', host: 0, gate: 'none', inc: -1, run: () => h.start() });
  const master = settle(w);
  const list = (): string[] => w.check.violations.map((v) => `${v.code} (host ${v.host}): ${v.detail}`);
  if (!master) return { ms: undefined, violations: [...list(), 'no stable master before the fault'] };
  runChecked(w, w.now + w.rng.faults.range(0, 500));
  const faultAtMs = w.now;
  const victim = inject(w, kind, master);
  let ms: number | undefined;
  while (ms === undefined && w.now < faultAtMs + FAILOVER_LIMIT_MS && !w.check.failed) {
    runChecked(w, w.now + 10);
    ms = measured(w, kind, victim, faultAtMs);
  }
  runChecked(w, w.now + 3_000); // keep checking a while after the failover
  return { ms, violations: list() };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export interface ReportRow {
  kind: ReportKind;
  fencing: 'pr' | 'none';
  runs: number;
  missing: number;
  violations: string[];
  p50: number;
  p99: number;
  max: number;
}

export function failoverReport(binding: EngineBinding, runs: number, firstSeed = 1): ReportRow[] {
  const rows: ReportRow[] = [];
  for (const fencing of ['none', 'pr'] as const) {
    for (const kind of REPORT_KINDS) {
      const times: number[] = [];
      const violations: string[] = [];
      let missing = 0;
      for (let i = 0; i < runs; i++) {
        const s = failoverSample(firstSeed + i, kind, fencing, binding);
        if (s.ms === undefined) missing += 1;
        else times.push(s.ms);
        for (const v of s.violations) violations.push(`seed ${firstSeed + i}: ${v}`);
      }
      times.sort((a, b) => a - b);
      rows.push({ kind, fencing, runs, missing, violations, p50: percentile(times, 50), p99: percentile(times, 99), max: times[times.length - 1] ?? NaN });
    }
  }
  return rows;
}

export function formatReport(rows: ReportRow[]): string {
  const out: string[] = [];
  const header = ['fault', 'fencing', 'runs', 'p50 ms', 'p99 ms', 'max ms', 'no failover', 'violations'];
  const widths = [18, 8, 6, 8, 8, 8, 12, 10];
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 8) : c.padStart(widths[i] ?? 8))).join(' ');
  out.push(line(header));
  for (const r of rows) {
    const f = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(0));
    out.push(line([r.kind, r.fencing, String(r.runs), f(r.p50), f(r.p99), f(r.max), String(r.missing), String(r.violations.length)]));
  }
  out.push('(standby crash: time from the crash to the decision that evicts it; others: to a new master on another host)');
  for (const r of rows) for (const v of r.violations.slice(0, 5)) out.push(`violation [${r.kind}/${r.fencing}] ${v}`);
  return out.join('\n');
}
