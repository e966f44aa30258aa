// The simulator's command line (npm run sim -- ...):
//   --seeds N [--from F]   run seeds F..F+N-1 (F defaults to 1); prints failing seeds
//   --seed S [--trace]     replay one seed exactly; same output byte for byte
//   --report [--runs N]    failover-time table per fault kind (default timeouts)
//   --scale                64 or 255 hosts, shorter runs
//   --stress               three times the faults plus five, mostly at the master
//   --broken RULE          run the engine with a deliberately broken rule
//   --fault-phase-ms MS    length of the fault phase (default 30000)
//   --lying-disk ODDS      writes reported durable are lost with these odds (must fail)
//   --etcd                 etcd mode: the lease-store engine against the etcd model
//   --script FILE [--trace] run a scripted fault list (test/sim/script.ts) instead of a seed
//   --help                 this text
// Standard output depends only on the arguments. Exit status (EXIT_CODES): 0 every run
// passed; 1 a safety violation; 3 a liveness failure (no master after the heal); 4 a
// crash (the engine threw, an assertion failed, or the simulator itself broke); 2 bad
// usage or a bad script. With several failing runs the most serious wins: 1, then 4, then 3.
import { readFileSync } from 'node:fs';
import type { EngineBinding } from './binding.js';
import { coreBinding } from './core-binding.js';
import { etcdBinding } from './store-binding.js';
import { EXIT_CODES, outcomeOf, worst, type Outcome } from './outcome.js';
import { parseScript, runScript, ScriptError } from './script.js';
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
  etcd: boolean;
  script?: string;
}

const HELP = `npm run sim -- [--seeds N [--from F] | --seed S [--trace] | --script FILE [--trace] | --report [--runs N]]
  [--etcd] [--scale] [--stress] [--broken RULE] [--fault-phase-ms MS] [--lying-disk ODDS]
exit status: 0 pass, 1 safety violation, 2 usage or bad script, 3 liveness failure, 4 crash (engine threw)`;

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
  const args: Args = { from: 1, trace: false, report: false, runs: 100, scale: false, stress: false, etcd: false };
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
    else if (a === '--etcd') args.etcd = true;
    else if (a === '--broken') args.broken = argv[++i] ?? usage('--broken needs a rule name');
    else if (a === '--script') args.script = argv[++i] ?? usage('--script needs a file');
    else if (a === '--help') {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    } else usage(`unknown argument ${a}`);
  }
  if (args.etcd && (args.scale || args.report || args.script !== undefined || args.lyingDisk)) usage('--etcd goes with --seeds, --seed, --stress, --broken and --fault-phase-ms');
  if (args.seeds === undefined && args.seed === undefined && !args.report && args.script === undefined) {
    usage('give --seeds N, --seed S, --script FILE or --report (--help lists every option)');
  }
  return args;
}

export function replayCommand(seed: number, a: Args): string {
  const extra = [a.etcd ? '--etcd' : '', a.scale ? '--scale' : '', a.stress ? '--stress' : '', a.broken ? `--broken ${a.broken}` : '', a.faultPhaseMs !== undefined ? `--fault-phase-ms ${a.faultPhaseMs}` : '', a.lyingDisk ? `--lying-disk ${a.lyingDisk}` : '']
    .filter(Boolean)
    .join(' ');
  return `npm run sim -- --seed ${seed}${extra ? ` ${extra}` : ''} --trace`;
}

function bindingOf(a: Args): EngineBinding {
  return a.etcd ? etcdBinding : coreBinding;
}

function runOptions(a: Args): RunOptions {
  return {
    mode: a.scale ? 'scale' : 'sweep',
    ...(a.etcd ? { etcd: true } : {}),
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

function replay(a: Args, seed: number): Outcome {
  const r = runSeed(seed, bindingOf(a), runOptions(a));
  printRun(r, a.trace, `seed ${seed}`, r.ok ? undefined : replayCommand(seed, a));
  return outcomeOf(r);
}

function printRun(r: RunResult, trace: boolean, what: string, replayWith: string | undefined): void {
  const out: string[] = [describeKnobs(r.knobs)];
  if (trace) out.push(...r.traceLines);
  for (const v of r.violations) out.push(`violation ${v.code} at ${v.atMs.toFixed(3)} ms, host ${v.host}: ${v.detail}`);
  const heal = r.healToMasterMs === undefined ? 'none' : `${r.healToMasterMs.toFixed(0)} ms`;
  out.push(`steps=${r.steps} end=${r.endMs.toFixed(0)}ms heal->master=${heal} logs=${JSON.stringify(r.logCounts)}`);
  out.push(`${r.ok ? 'PASS' : 'FAIL'} ${what} trace ${r.traceHash}`);
  if (replayWith !== undefined) out.push(`replay: ${replayWith}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

function scripted(a: Args, file: string): Outcome {
  let script;
  try {
    script = parseScript(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    const message = err instanceof ScriptError ? err.message : `${file}: ${(err as Error).message}`;
    process.stderr.write(`E_SCRIPT: ${message}\n`);
    process.exit(EXIT_CODES.usage);
  }
  const r = runScript(script, { trace: a.trace });
  printRun(r, a.trace, `script ${file}`, r.ok ? undefined : `npm run sim -- --script ${file} --trace`);
  return outcomeOf(r);
}

function sweep(a: Args, count: number): Outcome {
  const outcomes: Outcome[] = [];
  let failed = 0;
  const last = a.from + count - 1;
  for (let seed = a.from; seed <= last; seed++) {
    const r = runSeed(seed, bindingOf(a), { ...runOptions(a), trace: false });
    if (!r.ok) {
      failed += 1;
      outcomes.push(outcomeOf(r));
      process.stdout.write(`${describeFailure(r, a).join('\n')}\n`);
    }
    if ((seed - a.from + 1) % 500 === 0) process.stderr.write(`.. ${seed - a.from + 1}/${count} seeds, ${failed} failed\n`);
  }
  process.stdout.write(`seeds ${a.from}..${last}: ${count - failed} passed, ${failed} failed\n`);
  return worst(outcomes);
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  const outcomes: Outcome[] = [];
  if (a.script !== undefined) outcomes.push(scripted(a, a.script));
  if (a.seed !== undefined) outcomes.push(replay(a, a.seed));
  if (a.seeds !== undefined) outcomes.push(sweep(a, a.seeds));
  if (a.report) {
    const rows = failoverReport(coreBinding, a.runs, a.from);
    process.stdout.write(`failover times, default timeouts, ${a.runs} runs per row (simulated ms)\n${formatReport(rows)}\n`);
    const slow = slowHostReport(coreBinding, Math.max(1, Math.round(a.runs / 5)), a.from);
    process.stdout.write(`${slow.join('\n')}\n`);
    if (!(rows.every((r) => r.violations.length === 0) && slow.length === 1)) outcomes.push('safety');
  }
  // exitCode, not exit(): stdout to a pipe is asynchronous and exit() would cut a long trace.
  process.exitCode = EXIT_CODES[worst(outcomes)];
}

try {
  main();
} catch (err) {
  // The simulator itself broke (a bug in the harness, not a finding about the engine).
  process.stderr.write(`simulator crashed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = EXIT_CODES.crash;
}
