// One simulated host: its local clock (own offset and a rate within the drift bound), the
// ycs engine of its current incarnation, pauses and crashes, and the shell that carries
// out the engine's outputs against the simulated disks, network, fencing and databases.
import { ownEpochFloor } from '../../src/core/arbitration.js';
import type { Input, Output, Role } from '../../src/core/types.js';
import type { SimEngine } from './binding.js';
import { submitRead, submitWrite } from './disk.js';
import { describeCall } from './etcd-shell.js';
import { applyFence, applyFenceStep } from './fence.js';
import { crashAllDbs, disconnectDbs, reconnectDbs, resourceAction, revokeAuthority, SimDb } from './resources.js';
import type { Gate, SimEvent, World } from './world.js';

export class SimHost {
  alive = false;
  /** The machine is up but its ycs process died (kill -9 of ycs): its databases run on. */
  ycsDown = false;
  incarnation = 0;
  /** The epoch floor this incarnation started with (its own sectors, as the daemon reads them). */
  epochFloor = 0;
  engine: SimEngine | undefined;
  pausedUntil = 0; // whole host frozen (false death): engine and databases
  stalledUntil = 0; // only the ycs event loop is late (a slow host)
  crashedAtMs = -1;
  powerLossCrash = false;
  role: Role = 'starting';
  epoch = 0;
  masterId = 0;
  readonly dbs: SimDb[];
  /** The latest grant-lease per resource (own clock), as the daemon's heartbeat-2 shell keeps it. */
  readonly grants: Array<{ untilMs: number; primary: boolean } | null>;
  /** Real time at which this host's fence shell finishes the steps queued so far. */
  fenceQueueFreeAt = 0;
  private clockBaseLocal: number;
  private clockBaseReal = 0;
  private rate: number;

  constructor(
    private readonly world: World,
    readonly id: number,
  ) {
    const rng = world.rng.host;
    // Clocks start at unrelated values: the engine must never compare them across hosts.
    this.clockBaseLocal = rng.int(1_000, 1_000_000_000);
    const fraction = world.knobs.skewFractions[id - 1] ?? 0;
    this.rate = 1 + fraction * world.timeouts.rho;
    this.dbs = world.resources.map(() => new SimDb());
    this.grants = world.resources.map(() => null);
  }

  localNow(): number {
    return this.clockBaseLocal + (this.world.now - this.clockBaseReal) * this.rate;
  }

  /** Change the clock rate from now on (still within the drift bound). */
  setRateFraction(fraction: number): void {
    this.clockBaseLocal = this.localNow();
    this.clockBaseReal = this.world.now;
    this.rate = 1 + Math.max(-1, Math.min(1, fraction)) * this.world.timeouts.rho;
  }

  /** Real-time delay for `localMs` of this host's clock. */
  realDelay(localMs: number): number {
    return localMs / this.rate;
  }

  get frozen(): boolean {
    return this.world.now < this.pausedUntil;
  }

  get ycsFrozen(): boolean {
    return this.world.now < Math.max(this.pausedUntil, this.stalledUntil);
  }

  /** Whether start() would start a ycs now (the host is down, or only its ycs). */
  get startable(): boolean {
    return !this.alive || this.ycsDown;
  }

  start(): void {
    const w = this.world;
    const databasesRan = this.alive && this.ycsDown;
    this.alive = true;
    this.ycsDown = false;
    this.incarnation += 1;
    this.resumeTickDue = false;
    this.role = 'starting';
    this.epoch = 0;
    this.masterId = 0;
    this.epochFloor = this.startEpochFloor();
    this.grants.fill(null);
    this.fenceQueueFreeAt = 0;
    this.engine = w.binding.create({
      hostId: this.id,
      hostIds: w.hosts.map((h) => h.id),
      diskCount: w.knobs.diskCount,
      resources: w.resources,
      incarnation: this.incarnation,
      epochFloor: this.epochFloor,
      fencing: w.knobs.fencing,
      timeoutsVariant: w.knobs.timeoutsVariant,
      ...(w.options.brokenRule ? { brokenRule: w.options.brokenRule } : {}),
    });
    w.check.onStart(this);
    this.step({ kind: 'start', nowMs: this.localNow() });
    this.scheduleTick(w.rng.host.range(0, w.timeouts.tickMs));
    if (databasesRan) reconnectDbs(w, this);
  }

  /** kill -9 of ycs alone: its databases keep running and reconnect when ycs is back. */
  crashYcs(): void {
    if (!this.alive || this.ycsDown) return;
    this.ycsDown = true;
    this.engine = undefined;
    this.backlog = [];
    this.stalledUntil = Math.min(this.stalledUntil, this.world.now);
    this.role = 'starting'; // a dead ycs acts as nothing
    disconnectDbs(this);
    this.world.check.onHostStateChanged(this, 'ycs-crash');
  }

  /**
   * As the daemon's readStartState: this host's own sectors on every disk it can read
   * now (a disk failing for it is skipped), reduced by the same ownEpochFloor.
   */
  private startEpochFloor(): number {
    const now = this.world.now;
    const readable = this.world.disks.filter((d) => !d.failing(this.id, now));
    return ownEpochFloor(readable.map((d) => ({ heartbeat: d.hb[this.id - 1]!, vote: d.votes[this.id - 1]! })));
  }

  crash(powerLoss: boolean): void {
    if (!this.alive) return;
    this.alive = false;
    this.ycsDown = false;
    this.engine = undefined;
    this.backlog = [];
    this.pausedUntil = Math.min(this.pausedUntil, this.world.now);
    this.stalledUntil = Math.min(this.stalledUntil, this.world.now);
    this.crashedAtMs = this.world.now;
    this.powerLossCrash = powerLoss;
    crashAllDbs(this.world, this);
    this.world.check.onHostStateChanged(this, 'crash');
  }

  /** Events that arrived while frozen, in arrival order. */
  backlog: SimEvent[] = [];
  private resumeTickDue = false;

  blocks(gate: Gate): boolean {
    if (gate === 'engine') return this.ycsFrozen;
    return gate === 'db' && this.frozen;
  }

  /**
   * Freeze the whole host (false death) or only its ycs engine: a slow host (by at most the
   * spike the timeouts tolerate: those stalls never chain) or, with `wedged`, an engine
   * stuck for any time while the host, its databases and the heartbeat-2 acks carry on.
   */
  freeze(durationMs: number, wholeHost: boolean, wedged = false): void {
    if (!this.alive) return;
    const until = this.world.now + durationMs;
    if (wholeHost) this.pausedUntil = Math.max(this.pausedUntil, until);
    else if (wedged) this.stalledUntil = Math.max(this.stalledUntil, until);
    else if (this.ycsFrozen) return;
    else this.stalledUntil = until;
    this.resumeTickDue = true;
    this.world.at(until, {
      code: wholeHost ? 'resume' : 'unstall',
      host: this.id,
      gate: 'none',
      inc: this.incarnation,
      run: () => this.thaw(),
    });
  }

  /** Ends every freeze now (heal). */
  thawNow(): void {
    this.pausedUntil = Math.min(this.pausedUntil, this.world.now);
    this.stalledUntil = Math.min(this.stalledUntil, this.world.now);
    this.thaw();
  }

  private thaw(): void {
    if (!this.alive) return;
    const waiting = this.backlog;
    this.backlog = [];
    // The first thing a thawed daemon does is run its timer: the engine sees the jump.
    if (this.resumeTickDue && !this.ycsFrozen) {
      this.resumeTickDue = false;
      this.step({ kind: 'tick', nowMs: this.localNow() });
    }
    for (const ev of waiting) {
      if (this.blocks(ev.gate)) this.backlog.push(ev);
      else this.world.at(this.world.now, ev);
    }
    this.world.check.onHostStateChanged(this, 'resume');
  }

  private scheduleTick(delayMs: number): void {
    const inc = this.incarnation;
    this.world.after(delayMs, {
      code: 'tick',
      host: this.id,
      gate: 'engine',
      inc,
      run: () => {
        this.step({ kind: 'tick', nowMs: this.localNow() });
        const jitter = this.world.rng.host.range(0, 2);
        this.scheduleTick(this.realDelay(this.world.timeouts.tickMs) + jitter);
      },
    });
  }

  step(input: Input): void {
    const w = this.world;
    const engine = this.engine;
    if (!this.alive || !engine) return;
    let outputs: Output[];
    w.stepCount += 1;
    try {
      outputs = engine.step(input);
    } catch (err) {
      w.check.violation('engine-threw', this.id, `${input.kind}: ${(err as Error).stack ?? String(err)}`);
      this.crash(false);
      return;
    }
    w.check.onOutputs(this, input, outputs);
    for (const out of outputs) {
      w.trace.note(w.now, this.id, out.kind, () => describeOutput(out));
      w.options.onOutput?.(this.id, out);
      this.execute(out);
    }
    w.check.afterStep(this);
  }

  private execute(out: Output): void {
    const w = this.world;
    switch (out.kind) {
      case 'read-disk':
        submitRead(w, this, out.disk, out.requestId);
        return;
      case 'write-heartbeat':
        submitWrite(w, this, out.disk, out.requestId, 'heartbeat', out.record);
        return;
      case 'write-vote':
        submitWrite(w, this, out.disk, out.requestId, 'vote', out.record);
        return;
      case 'send-heartbeat':
        w.net.send(this, out.message);
        return;
      case 'fence':
        applyFence(w, this, out.victim, out.epoch);
        return;
      case 'register':
      case 'reserve':
        applyFenceStep(w, this, out.kind, out.device, out.epoch);
        return;
      case 'rekey':
        applyFenceStep(w, this, 'rekey', out.device, out.epoch, out.fromEpoch);
        return;
      case 'grant-lease':
        this.grants[out.resource] = { untilMs: out.untilMs, primary: out.primary };
        return;
      case 'revoke-authority':
        revokeAuthority(this);
        w.check.onHostStateChanged(this, 'revoked');
        return;
      case 'membership':
        return; // a log line in the daemon
      case 'resource':
        resourceAction(w, this, out.resource, out.action, out.epoch);
        return;
      case 'role-change':
      case 'log':
        return; // observed by the checkers
      case 'store': {
        const etcd = w.etcd;
        if (etcd === null) return w.check.violation('store-without-etcd', this.id, JSON.stringify(out));
        return etcd.execute(this, out);
      }
      case 'exit':
        this.alive = false;
        this.engine = undefined;
        crashAllDbs(w, this);
        w.check.onHostStateChanged(this, 'exit');
        return;
      default:
        w.check.violation('unknown-output', this.id, JSON.stringify(out));
    }
  }
}

function describeOutput(out: Output): string {
  switch (out.kind) {
    case 'role-change':
      return `${out.from} -> ${out.to} epoch ${out.epoch} master ${out.masterId}: ${out.reason}`;
    case 'log':
      return `${out.level} ${out.msg}${out.fields ? ` ${JSON.stringify(out.fields)}` : ''}`;
    case 'write-vote':
      return `disk ${out.disk} #${out.requestId} ${JSON.stringify(out.record.payload)}`;
    case 'write-heartbeat': {
      const p = out.record.payload;
      return `disk ${out.disk} #${out.requestId} seq ${out.record.sequence} ${p.role} epoch ${p.epoch} master ${p.masterId} heard [${p.heard.join(',')}]`;
    }
    case 'read-disk':
      return `disk ${out.disk} #${out.requestId}`;
    case 'send-heartbeat':
      return `seq ${out.message.sequence} ${out.message.role} epoch ${out.message.epoch}`;
    case 'fence':
      return `victim ${out.victim} epoch ${out.epoch}`;
    case 'register':
    case 'reserve':
      return `device ${out.device} epoch ${out.epoch}`;
    case 'grant-lease':
      return `resource ${out.resource} until ${out.untilMs.toFixed(1)}${out.primary ? ' primary' : ''}`;
    case 'revoke-authority':
      return out.reason;
    case 'membership':
      return `epoch ${out.epoch} members [${out.members.join(',')}] admitted [${out.admitted.join(',')}] evicted [${out.evicted.join(',')}]`;
    case 'resource':
      return `resource ${out.resource} ${out.action} epoch ${out.epoch}`;
    case 'exit':
      return out.reason;
    case 'store':
      return `#${out.requestId} ${describeCall(out.call)}`;
    default:
      return JSON.stringify(out);
  }
}
