// The simulator's scripted mode in-process: a world whose faults come from the caller
// (a test, or a JSON script through script.ts) instead of a drawn schedule, with the same
// hosts, disks, network, databases, fencing and checkers as every sweep run. Faults go
// through applyFault (faults.ts), the one place each fault's effect lives.
import type { ClusterEngine } from '../../src/core/engine.js';
import { deriveTimeouts, type Timeouts } from '../../src/core/timeouts.js';
import type { HostId, Input, Output } from '../../src/core/types.js';
import type { EngineBinding } from './binding.js';
import type { Violation } from './checkers.js';
import { coreBinding, TIMEOUT_VARIANTS } from './core-binding.js';
import { applyFault, linksBetween, type Fault } from './faults.js';
import type { Knobs } from './knobs.js';
import { runChecked } from './sim.js';
import { World } from './world.js';

/** The cluster a scripted run simulates; everything not given is calm and small. */
export interface ScriptSetup {
  hosts: number;
  disks?: 1 | 3 | 5;
  resources?: number;
  fencing?: 'pr' | 'none';
  timeoutsVariant?: number;
  /** Seeds the latencies and jitter (default 1). */
  seed?: number;
  /** Faults of a JSON script end here at the latest (applyFault's restarts and stalls). */
  healAtMs?: number;
  /** Knobs.sessionResetOdds (default 0: scripted runs have only the faults they script). */
  sessionResetOdds?: number;
  brokenRule?: string;
  trace?: boolean;
}

export interface OutputAt {
  at: number;
  host: HostId;
  output: Output;
}

export function scriptKnobs(s: ScriptSetup, faultCount: number): Knobs {
  return {
    seed: s.seed ?? 1,
    mode: 'sweep',
    hostCount: s.hosts,
    diskCount: s.disks ?? 1,
    resourceCount: s.resources ?? 1,
    fencing: s.fencing ?? 'none',
    timeoutsVariant: s.timeoutsVariant ?? 0,
    skewFractions: Array.from({ length: s.hosts }, () => 0),
    net: { lossOdds: 0, dupOdds: 0, delayTypicalMs: 1, delayTailMs: 10, delayTailOdds: 0 },
    disk: { latencyTypicalMs: 1, latencyTailMs: 20, latencyTailOdds: 0, tornOdds: 0 },
    warmupMs: 0,
    healAtMs: s.healAtMs ?? Number.MAX_SAFE_INTEGER,
    faultCount,
    sessionResetOdds: s.sessionResetOdds ?? 0,
    masterBias: 0,
  };
}

export class ScriptedWorld {
  readonly w: World;
  readonly outputs: OutputAt[] = [];
  readonly timeouts: Timeouts;

  constructor(setup: ScriptSetup, faultCount = 0, binding: EngineBinding = coreBinding) {
    this.w = new World(scriptKnobs(setup, faultCount), binding, {
      trace: setup.trace ?? false,
      ...(setup.brokenRule ? { brokenRule: setup.brokenRule } : {}),
      onOutput: (host, output) => this.outputs.push({ at: this.w.now, host, output }),
    });
    this.timeouts = deriveTimeouts(TIMEOUT_VARIANTS[setup.timeoutsVariant ?? 0]);
    for (const h of this.w.hosts) this.w.at(0, { code: 'boot', host: 0, gate: 'none', inc: -1, run: () => h.start() });
  }

  get now(): number {
    return this.w.now;
  }

  get violations(): Violation[] {
    return this.w.check.violations;
  }

  /** Runs the world (every checker on) until `untilMs`; stops early at a violation. */
  run(untilMs: number): void {
    runChecked(this.w, untilMs);
  }

  /** Applies a fault now; `host: 'master'` in a JSON script is resolved before this. */
  apply(fault: Fault): void {
    this.w.trace.note(this.w.now, 'host' in fault ? fault.host : 0, `fault-${fault.kind}`);
    applyFault(this.w, fault);
  }

  crash(host: HostId, downMs: number | null = null): void {
    this.apply({ kind: 'crash', host, downMs, powerLoss: false });
  }

  restart(host: HostId): void {
    this.apply({ kind: 'restart', host });
  }

  /** The whole host frozen (SIGSTOP of everything on it). */
  pause(host: HostId, durationMs: number): void {
    this.apply({ kind: 'pause', host, durationMs });
  }

  /** Only ycs slow, by at most the spike the timeouts tolerate. */
  stall(host: HostId, durationMs: number): void {
    this.apply({ kind: 'stall', host, durationMs });
  }

  /** ycs stuck for any time while the host, its databases and the heartbeat-2 acks live. */
  wedge(host: HostId, durationMs: number): void {
    this.apply({ kind: 'wedge', host, durationMs });
  }

  /** Every I/O of `host` hangs for `durationMs` (a dead SAN path). */
  diskStall(host: HostId, durationMs: number): void {
    this.apply({ kind: 'disk-stall', disk: 'all', hosts: [host], durationMs });
  }

  /** No network between the groups of `sides` for `durationMs` (default: until healNet). */
  partition(sides: HostId[][], durationMs = Number.MAX_SAFE_INTEGER): void {
    this.apply({ kind: 'partition', links: linksBetween(sides), durationMs });
  }

  /** Ends every partition now. */
  healNet(): void {
    this.w.net.heal();
  }

  dbCrash(host: HostId, resource = 0): void {
    this.apply({ kind: 'db-crash', host, resource });
  }

  dbHang(host: HostId, resource = 0): void {
    this.apply({ kind: 'db-hang', host, resource });
  }

  /** An input straight to a host's engine, stamped with its clock (an operator's shutdown, say). */
  inject(host: HostId, make: (nowMs: number) => Input): void {
    const h = this.w.host(host);
    h.step(make(h.localNow()));
  }

  engine(host: HostId): ClusterEngine {
    const e = this.w.host(host).engine;
    if (e === undefined) throw new Error(`host ${host} is not running`);
    return e as unknown as ClusterEngine;
  }

  /** Hosts alive in role master (frozen ones included). */
  masters(): HostId[] {
    return this.w.hosts.filter((h) => h.alive && h.role === 'master').map((h) => h.id);
  }

  logs(host: HostId, msg?: string): OutputAt[] {
    return this.outputs.filter((o) => o.host === host && o.output.kind === 'log' && (msg === undefined || o.output.msg === msg));
  }

  /** The host's writes to the data LUN are refused (its key is gone under a reservation). */
  fencedFromData(host: HostId): boolean {
    return this.w.storage.fencedFromData(host);
  }
}
