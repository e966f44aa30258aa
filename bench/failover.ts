// npm run bench:failover [-- --runs N] [--kinds db-kill,ycs-kill,host-kill,host-stop] [--sim-runs N]
//
// Failover time on real processes (three hosts on this machine, each ycsm -> ycs -> demo
// database; bench/failover/clusters.ts) per fault kind, p50/p99 over N runs (default 20),
// beside the simulator's figure for the same settings (three hosts, default timeouts, the
// same fencing; bench/failover/sim.ts), and each failover's parts from the daemons' JSON
// log lines (bench/failover/phases.ts), so the slowest part is visible. Needs root (loop
// devices, tgtd). Runs whose figures are reported go under `flock /tmp/ycs-heavy.lock`.
// Everything started is cleaned up, also on a failure or Ctrl-C.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FailoverFixture } from '../test/helpers/cluster-fixture.js';
import { startBenchCluster, type ClusterKind } from './failover/clusters.js';
import { FAULT_KINDS, type FaultKind, type RunResult } from './failover/kinds.js';
import { PHASES, PHASE_MEANING, RESTART_PHASES, RESTART_PHASE_MEANING } from './failover/phases.js';
import { simSamples } from './failover/sim.js';
import { ms, percentile, table } from './failover/stats.js';

/** ycsm's delay before its first restart of a crashed ycs (SUPERVISOR_DEFAULTS.backoffBaseMs): the simulator's ycs down time. */
const YCSM_FIRST_RESTART_MS = 500;
/** A master holds this long before a fault (the simulator's settle rule: 1 s), plus up to 0.5 s at random. */
const HOLD_MS = 1000;

function options() {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, kinds: { type: 'string' }, 'sim-runs': { type: 'string' } } });
  const runs = Number(values.runs ?? 20);
  const simRuns = Number(values['sim-runs'] ?? 100);
  const names = (values.kinds ?? FAULT_KINDS.map((k) => k.name).join(',')).split(',');
  const kinds = names.map((n) => FAULT_KINDS.find((k) => k.name === n));
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(simRuns) || simRuns < 1 || kinds.some((k) => k === undefined)) {
    process.stderr.write(`E_INVALID_ARGUMENT: --runs and --sim-runs take positive integers, --kinds some of ${FAULT_KINDS.map((k) => k.name).join(',')}\n`);
    process.exit(2);
  }
  return { runs, simRuns, kinds: kinds as FaultKind[] };
}

let current: FailoverFixture | undefined;

function cleanupOnSignal(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up\n`);
      void (current?.cleanup() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
}

async function runKind(fx: FailoverFixture, kind: FaultKind, runs: number): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (let i = 0; i < runs; i++) {
    const before = await fx.waitHealthy(90_000);
    await sleep(HOLD_MS + Math.random() * 500);
    const r = await kind.run(fx, before);
    results.push(r);
    const parts = Object.entries(r.phases).map(([k, v]) => `${k} ${ms(v)}`).join(', ');
    process.stderr.write(`  ${kind.name} run ${i + 1}/${runs}: ${r.ms} ms (${parts})${r.problems.length > 0 ? ` PROBLEM: ${r.problems.join('; ')}` : ''}\n`);
  }
  return results;
}

interface KindFigures {
  kind: FaultKind;
  results: RunResult[];
  sim: number[];
  simMissing: number;
  simViolations: number;
  dataViolations: string[];
}

async function measureAll(kinds: FaultKind[], runs: number, simRuns: number): Promise<KindFigures[]> {
  const out: KindFigures[] = [];
  for (const clusterKind of ['loop', 'fenced'] as ClusterKind[]) {
    const mine = kinds.filter((k) => k.cluster === clusterKind);
    if (mine.length === 0) continue;
    process.stderr.write(`starting the ${clusterKind} cluster\n`);
    const fx = await startBenchCluster(clusterKind);
    current = fx;
    try {
      for (const kind of mine) {
        const results = await runKind(fx, kind, runs);
        const samples = simSamples(simRuns, kind.sim.fault, kind.sim.fencing, YCSM_FIRST_RESTART_MS);
        const sim = samples.flatMap((s) => (s.ms === undefined ? [] : [s.ms]));
        out.push({ kind, results, sim, simMissing: samples.length - sim.length, simViolations: samples.reduce((a, s) => a + s.violations, 0), dataViolations: fx.dataViolations() });
      }
    } finally {
      await fx.cleanup();
      current = undefined;
    }
  }
  return out;
}

function report(figures: KindFigures[], runs: number, simRuns: number): string {
  const lines: string[] = [];
  const totals = figures.map((f) => {
    const real = f.results.map((r) => r.ms);
    return [f.kind.name, String(real.length), ms(percentile(real, 50)), ms(percentile(real, 99)), ms(Math.max(...real)), ms(percentile(f.sim, 50)), ms(percentile(f.sim, 99)),
      `${f.simMissing}/${f.simViolations}`, String(f.results.reduce((a, r) => a + r.problems.length, 0) + f.dataViolations.length)];
  });
  lines.push(`failover time, fault to the survivors' statuses agreeing (ms); real: ${runs} runs per kind, simulator: ${simRuns} seeds, 3 hosts, default timeouts`);
  lines.push(table(['kind', 'runs', 'p50', 'p99', 'max', 'sim p50', 'sim p99', 'sim none/viol', 'problems'], totals));
  for (const f of figures) lines.push(`  ${f.kind.name}: ${f.kind.title}`);
  lines.push('');
  lines.push('parts of each failover, from the JSON log lines: p50 / p99 (ms)');
  const failovers = figures.filter((f) => f.kind.name !== 'ycs-kill');
  if (failovers.length > 0) lines.push(partsTable(failovers, [...PHASES]));
  for (const p of PHASES) lines.push(`  ${p}: ${PHASE_MEANING[p]}`);
  const restarts = figures.filter((f) => f.kind.name === 'ycs-kill');
  if (restarts.length > 0) {
    lines.push('');
    lines.push(partsTable(restarts, [...RESTART_PHASES]));
    for (const p of RESTART_PHASES) lines.push(`  ${p}: ${RESTART_PHASE_MEANING[p]}`);
  }
  for (const f of figures) for (const v of [...f.dataViolations, ...f.results.flatMap((r) => r.problems)].slice(0, 5)) lines.push(`PROBLEM [${f.kind.name}] ${v}`);
  return lines.join('\n');
}

function partsTable(figures: KindFigures[], phases: string[]): string {
  const rows = figures.map((f) => {
    const cells = phases.map((p) => {
      const xs = f.results.flatMap((r) => (r.phases[p] === undefined ? [] : [r.phases[p] as number]));
      return xs.length === 0 ? '-' : `${ms(percentile(xs, 50))} / ${ms(percentile(xs, 99))}`;
    });
    const medians = phases.map((p) => percentile(f.results.flatMap((r) => (r.phases[p] === undefined ? [] : [r.phases[p] as number])), 50));
    const slowest = phases[medians.reduce((best, v, i) => (Number.isNaN(v) || v <= (medians[best] ?? -1) ? best : i), 0)] ?? '-';
    return [f.kind.name, ...cells, slowest];
  });
  return table(['kind', ...phases, 'slowest'], rows);
}

async function main(): Promise<void> {
  const { runs, simRuns, kinds } = options();
  cleanupOnSignal();
  const figures = await measureAll(kinds, runs, simRuns);
  process.stdout.write(`${report(figures, runs, simRuns)}\n`);
  const bad = figures.some((f) => f.dataViolations.length > 0 || f.results.some((r) => r.problems.length > 0) || f.simViolations > 0);
  process.exitCode = bad ? 1 : 0;
}

main().catch(async (err: unknown) => {
  await current?.cleanup();
  process.stderr.write(`E_BENCH: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
