// The simulator's scripted mode (npm run sim -- --script FILE.json): a cluster and a timed
// list of faults instead of a drawn schedule, run with every checker, healed at healAtMs,
// then held to the same liveness bound as a sweep run. Example: test/sim/scripts/.
//
//   { "hosts": 3, "disks": 3, "fencing": "pr", "healAtMs": 20000,
//     "faults": [ { "atMs": 8000, "kind": "crash", "host": "master" },
//                 { "atMs": 12000, "kind": "partition", "sides": [[1], [2, 3]], "durationMs": 4000 } ] }
//
// Fault kinds and their fields (durations in ms; "host" may be "master": the acting
// master when the fault fires): crash {host, downMs?, powerLoss?}, ycs-crash {host,
// downMs?}, restart {host}, pause|stall|wedge {host, durationMs}, disk-stall|disk-errors
// {disk? (index or "all"), hosts?, durationMs}, disk-loss {host, durationMs}, partition
// {sides: [[ids], [ids], ...], durationMs}, net-burst {durationMs, lossOdds, extraDelayMs?},
// db-crash|db-hang {host, resource?}, clock-rate {host, fraction}, heal {}.
import type { EngineBinding } from './binding.js';
import { coreBinding } from './core-binding.js';
import { linksBetween, type Fault } from './faults.js';
import { ScriptedWorld, type ScriptSetup } from './scripted.js';
import { checkLiveness, resultOf, runChecked, type RunResult } from './sim.js';

export interface ScriptFault {
  atMs: number;
  kind: string;
  [field: string]: unknown;
}

export interface Script extends ScriptSetup {
  healAtMs: number;
  faults: ScriptFault[];
}

const HOST_FAULTS = new Set(['crash', 'ycs-crash', 'restart', 'pause', 'stall', 'wedge', 'disk-loss', 'db-crash', 'db-hang', 'clock-rate']);
const KINDS = new Set([...HOST_FAULTS, 'disk-stall', 'disk-errors', 'partition', 'net-burst', 'heal']);

/** A script that cannot run: main prints `E_SCRIPT: message` and exits 2. */
export class ScriptError extends Error {
  readonly code = 'E_SCRIPT';
}

function bad(message: string): never {
  throw new ScriptError(message);
}

function count(v: unknown, what: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) bad(`${what} must be a number >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/** Checks a parsed script; throws E_SCRIPT naming the field and the problem. */
export function parseScript(raw: unknown): Script {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad('a script is a JSON object');
  const r = raw as Record<string, unknown>;
  const hosts = count(r['hosts'], 'hosts', 1);
  if (!Number.isInteger(hosts) || hosts > 255) bad('hosts must be an integer 1..255');
  const disks = r['disks'] ?? 1;
  if (disks !== 1 && disks !== 3 && disks !== 5) bad(`disks must be 1, 3 or 5, got ${JSON.stringify(disks)}`);
  const fencing = r['fencing'] ?? 'none';
  if (fencing !== 'pr' && fencing !== 'none') bad(`fencing must be "pr" or "none", got ${JSON.stringify(fencing)}`);
  if (!Array.isArray(r['faults'])) bad('faults must be an array');
  const faults = (r['faults'] as unknown[]).map((f, i) => checkFault(f, i, hosts, disks));
  const lastAt = Math.max(0, ...faults.map((f) => f.atMs));
  const healAtMs = count(r['healAtMs'] ?? lastAt + 1_000, 'healAtMs');
  if (healAtMs < lastAt) bad(`healAtMs (${healAtMs}) comes before the last fault (${lastAt})`);
  const setup: Script = { hosts, disks, fencing, healAtMs, faults };
  if (r['resources'] !== undefined) setup.resources = count(r['resources'], 'resources', 1);
  if (r['timeoutsVariant'] !== undefined) setup.timeoutsVariant = count(r['timeoutsVariant'], 'timeoutsVariant');
  if (r['seed'] !== undefined) setup.seed = count(r['seed'], 'seed');
  if (r['brokenRule'] !== undefined) setup.brokenRule = String(r['brokenRule']);
  return setup;
}

function checkFault(raw: unknown, i: number, hosts: number, disks: number): ScriptFault {
  const where = `faults[${i}]`;
  if (raw === null || typeof raw !== 'object') bad(`${where} must be an object`);
  const f = raw as ScriptFault;
  count(f.atMs, `${where}.atMs`);
  if (!KINDS.has(f.kind)) bad(`${where}.kind ${JSON.stringify(f.kind)} is not one of ${[...KINDS].join(', ')}`);
  if (HOST_FAULTS.has(f.kind) && f['host'] !== 'master') {
    const h = count(f['host'], `${where}.host`, 1);
    if (!Number.isInteger(h) || h > hosts) bad(`${where}.host must be "master" or a host id 1..${hosts}`);
  }
  if ((f.kind === 'disk-stall' || f.kind === 'disk-errors') && f['disk'] !== undefined && f['disk'] !== 'all') {
    const d = count(f['disk'], `${where}.disk`);
    if (!Number.isInteger(d) || d >= disks) bad(`${where}.disk must be "all" or a disk index 0..${disks - 1}`);
  }
  if (f.kind === 'partition') {
    const sides = f['sides'];
    if (!Array.isArray(sides) || sides.length < 2 || !sides.every((s) => Array.isArray(s) && s.every((h) => Number.isInteger(h) && h >= 1 && h <= hosts))) {
      bad(`${where}.sides must list two or more groups of host ids 1..${hosts}`);
    }
  }
  return f;
}

/** The Fault a script entry means at the moment it fires. */
function resolve(sw: ScriptedWorld, f: ScriptFault): Fault | null {
  let host = f['host'] as number | 'master' | undefined;
  if (host === 'master') {
    const m = sw.w.check.actingMaster();
    if (m === undefined) return null; // no master to hit: the entry does nothing
    host = m.id;
  }
  const h = host as number;
  const ms = (name: string, dflt?: number): number => count(f[name] ?? dflt, `${f.kind}.${name}`);
  const nullableMs = (name: string): number | null => (f[name] === undefined ? null : ms(name));
  const hostList = (): number[] | null => (f['hosts'] === undefined ? null : (f['hosts'] as number[]));
  const disk = (): number | 'all' => (f['disk'] === undefined || f['disk'] === 'all' ? 'all' : count(f['disk'], 'disk'));
  switch (f.kind) {
    case 'crash':
      return { kind: 'crash', host: h, downMs: nullableMs('downMs'), powerLoss: f['powerLoss'] === true };
    case 'ycs-crash':
      return { kind: 'ycs-crash', host: h, downMs: nullableMs('downMs') };
    case 'restart':
      return { kind: 'restart', host: h };
    case 'pause':
    case 'stall':
    case 'wedge':
      return { kind: f.kind, host: h, durationMs: ms('durationMs') };
    case 'disk-stall':
    case 'disk-errors':
      return { kind: f.kind, disk: disk(), hosts: hostList(), durationMs: ms('durationMs') };
    case 'disk-loss':
      return { kind: 'disk-errors', disk: 'all', hosts: [h], durationMs: ms('durationMs') };
    case 'partition':
      return { kind: 'partition', links: linksBetween(f['sides'] as number[][]), durationMs: ms('durationMs', Number.MAX_SAFE_INTEGER) };
    case 'net-burst':
      return { kind: 'net-burst', durationMs: ms('durationMs'), lossOdds: ms('lossOdds'), extraDelayMs: ms('extraDelayMs', 0) };
    case 'db-crash':
    case 'db-hang':
      return { kind: f.kind, host: h, resource: ms('resource', 0) };
    case 'clock-rate':
      return { kind: 'clock-rate', host: h, fraction: Number(f['fraction'] ?? 0) };
    default:
      return { kind: 'heal' };
  }
}

/** Runs a script with every checker, heals at healAtMs, then checks liveness. */
export function runScript(script: Script, options: { trace?: boolean } = {}, binding: EngineBinding = coreBinding): RunResult {
  const sw = new ScriptedWorld({ ...script, trace: options.trace ?? false }, script.faults.length, binding);
  const w = sw.w;
  for (const f of script.faults) {
    w.at(f.atMs, { code: 'script-fault', host: 0, gate: 'none', inc: -1, run: () => {
      const fault = resolve(sw, f);
      if (fault !== null) sw.apply(fault);
    } });
  }
  w.at(script.healAtMs, { code: 'heal', host: 0, gate: 'none', inc: -1, run: () => sw.apply({ kind: 'heal' }) });
  runChecked(w, script.healAtMs);
  const boundMs = w.timeouts.failoverBoundMs;
  const healToMasterMs = checkLiveness(w, script.healAtMs + boundMs, boundMs);
  return resultOf(w, script.seed ?? 1, healToMasterMs);
}
