// The simulator's command line (npm run sim -- ...):
//   --seeds N [--from F]   run seeds F..F+N-1 (F defaults to 1); prints failing seeds
//   --seed S [--trace]     replay one seed exactly; same output byte for byte
//   --report [--runs N]    failover-time table per fault kind (default timeouts)
//   --scale                64 or 255 hosts, shorter runs
//   --stress               three times the faults plus five, mostly at the master
//   --broken RULE          run the engine with a deliberately broken rule
//   --fault-phase-ms MS    length of the fault phase (default 30000)
//   --lying-disk ODDS      writes reported durable are lost with these odds (must fail)
// Standard output depends only on the arguments; exit status 1 when any run failed.
import { coreBinding } from './core-binding.js';
import { describeKnobs } from './knobs.js';
import { failoverReport, formatReport } from './report.js';
import { runSeed, type RunOptions, type RunResult } from './sim.js';
import { slowHostReport } from './slow.js';

interface Args {
  seeds?: number;
  from: number;
  seed?: number;
  trace: boolean;
  report: boolean;
  runs: number;
  scale: boolean;
  broken?: string;
  faultPhaseMs?: number;
  lyingDisk?: number;
  stress: boolean;
}

function usage(message: string): never {
  process.stderr.write(`E_USAGE: ${message}\n`);
  process.exit(2);
}

function intArg(argv: string[], i: number, name: string): number {
  const v = Number(argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) usage(`${name} needs a non-negative integer`);
  return v;
}

export function parseArgs(argv: string[]): Args {
  const args: Args = { from: 1, trace: false, report: false, runs: 100, scale: false, stress: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seeds') args.seeds = intArg(argv, i++, a);
    else if (a === '--from') args.from = intArg(argv, i++, a);
    else if (a === '--seed') args.seed = intArg(argv, i++, a);
    else if (a === '--runs') args.runs = intArg(argv, i++, a);
    else if (a === '--fault-phase-ms') args.faultPhaseMs = intArg(argv, i++, a);
    else if (a === '--lying-disk') args.lyingDisk = Number(argv[++i] ?? usage('--lying-disk needs odds, e.g. 0.05'));
    else if (a === '--trace') args.trace = true;
    else if (a === '--report') args.report = true;
    else if (a === '--scale') args.scale = true;
    else if (a === '--stress') args.stress = true;
    else if (a === '--broken') args.broken = argv[++i] ?? usage('--broken needs a rule name');
    else usage(`unknown argument ${a}`);
  }
  if (args.seeds === undefined && args.seed === undefined && !args.report) usage('give --seeds N, --seed S or --report');
  return args;
}

export function replayCommand(seed: number, a: Args): string {
  const extra = [a.scale ? '--scale' : '', a.stress ? '--stress' : '', a.broken ? `--broken ${a.broken}` : '', a.faultPhaseMs !== undefined ? `--fault-phase-ms ${a.faultPhaseMs}` : '', a.lyingDisk ? `--lying-disk ${a.lyingDisk}` : '']
    .filter(Boolean)
    .join(' ');
  return `npm run sim -- --seed ${seed}${extra ? ` ${extra}` : ''} --trace`;
}

function runOptions(a: Args): RunOptions {
  return {
    mode: a.scale ? 'scale' : 'sweep',
    stress: a.stress,
    trace: a.trace,
    ...(a.broken ? { brokenRule: a.broken } : {}),
    ...(a.faultPhaseMs !== undefined ? { faultPhaseMs: a.faultPhaseMs } : {}),
    ...(a.lyingDisk ? { lyingDiskOdds: a.lyingDisk } : {}),
  };
}

export function describeFailure(r: RunResult, a: Args): string[] {
  const v = r.violations[0];
  const lines = [`FAIL seed ${r.seed}: ${v ? `${v.code} at ${v.atMs.toFixed(3)} ms, host ${v.host}: ${v.detail}` : 'failed'}`];
  lines.push(`  ${describeKnobs(r.knobs)}`);
  lines.push(`  replay: ${replayCommand(r.seed, a)}`);
  return lines;
}

function replay(a: Args, seed: number): boolean {
  const r = runSeed(seed, coreBinding, runOptions(a));
  const out: string[] = [describeKnobs(r.knobs)];
  if (a.trace) out.push(...r.traceLines);
  for (const v of r.violations) out.push(`violation ${v.code} at ${v.atMs.toFixed(3)} ms, host ${v.host}: ${v.detail}`);
  const heal = r.healToMasterMs === undefined ? 'none' : `${r.healToMasterMs.toFixed(0)} ms`;
  out.push(`steps=${r.steps} end=${r.endMs.toFixed(0)}ms heal->master=${heal} logs=${JSON.stringify(r.logCounts)}`);
  out.push(`${r.ok ? 'PASS' : 'FAIL'} seed ${seed} trace ${r.traceHash}`);
  if (!r.ok) out.push(`replay: ${replayCommand(seed, a)}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return r.ok;
}

function sweep(a: Args, count: number): boolean {
  let failed = 0;
  const last = a.from + count - 1;
  for (let seed = a.from; seed <= last; seed++) {
    const r = runSeed(seed, coreBinding, { ...runOptions(a), trace: false });
    if (!r.ok) {
      failed += 1;
      process.stdout.write(`${describeFailure(r, a).join('\n')}\n`);
    }
    if ((seed - a.from + 1) % 500 === 0) process.stderr.write(`.. ${seed - a.from + 1}/${count} seeds, ${failed} failed\n`);
  }
  process.stdout.write(`seeds ${a.from}..${last}: ${count - failed} passed, ${failed} failed\n`);
  return failed === 0;
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  let ok = true;
  if (a.seed !== undefined) ok = replay(a, a.seed) && ok;
  if (a.seeds !== undefined) ok = sweep(a, a.seeds) && ok;
  if (a.report) {
    const rows = failoverReport(coreBinding, a.runs, a.from);
    process.stdout.write(`failover times, default timeouts, ${a.runs} runs per row (simulated ms)\n${formatReport(rows)}\n`);
    const slow = slowHostReport(coreBinding, Math.max(1, Math.round(a.runs / 5)), a.from);
    process.stdout.write(`${slow.join('\n')}\n`);
    ok = rows.every((r) => r.violations.length === 0) && slow.length === 1 && ok;
  }
  // exitCode, not exit(): stdout to a pipe is asynchronous and exit() would cut a long trace.
  process.exitCode = ok ? 0 : 1;
}

main();
