// The invariants, checked at every engine step and at every change of who can act:
//  - one master per epoch; a master is the decided master of its epoch;
//  - epochs only grow for a host (within an incarnation), and a restarted host's heartbeat
//    never shows less than the epoch floor its own sectors gave it at start;
//  - a decided value never changes;
//  - at most one host acts as master at any instant of real time: a host "acts" while it
//    is alive, its ycs is not frozen and it is not fenced, so a paused master that never
//    runs again is harmless, and one that wakes must stop before it does anything;
//  - a master never acts once a newer master has been promoted (its window has ended);
//  - at most one database acts as primary per resource at any instant, and its data
//    writes never go back in epoch (an evicted or stale primary never writes again);
//  - the seed's three log lines are exactly these strings;
//  - status shows a resource running (primary, standby) only once its database told this
//    ycs 'connected' over heartbeat 2 (every simulated resource requires heartbeat 2).
import type { Decision, Input, Output } from '../../src/core/types.js';
import type { EtcdModel } from './etcd.js';
import { checkRecordHolder, checkRegister } from './etcd-checks.js';
import type { SimHost } from './host.js';
import type { World } from './world.js';

export interface Violation {
  code: string;
  host: number;
  atMs: number;
  detail: string;
}

export interface MasterEvent {
  atMs: number;
  host: number;
  epoch: number;
}

export const SEED_LOG_LINES = [
  'abnormal found, trigger a new vote cycle',
  'ycs run as primary successfully',
  'try join primary',
] as const;

function sameDecision(a: Decision, b: Decision): boolean {
  return a.masterId === b.masterId && a.members.length === b.members.length && a.members.every((m, i) => m === b.members[i]);
}

export class Checker {
  readonly violations: Violation[] = [];
  readonly decided = new Map<number, Decision>();
  readonly decidedAtMs = new Map<number, number>();
  readonly masterOfEpoch = new Map<number, number>();
  readonly masterEvents: MasterEvent[] = [];
  readonly logCounts = new Map<string, number>();
  readonly evictions: Array<{ atMs: number; host: number; reason: string }> = [];
  maxMasterEpoch = 0;
  private readonly heartbeatEpoch = new Map<number, number>();
  private readonly lastWrite = new Map<number, { host: number; epoch: number }>();
  /** Per host: own-clock end of the latest primary grant per resource, while it is master. */
  private readonly primaryGrants = new Map<number, Map<number, number>>();

  constructor(private readonly world: World) {}

  get failed(): boolean {
    return this.violations.length > 0;
  }

  violation(code: string, host: number, detail: string): void {
    this.violations.push({ code, host, atMs: this.world.now, detail });
  }

  acting(h: SimHost): boolean {
    return h.alive && !h.ycsFrozen && !this.world.storage.fencedFromData(h.id);
  }

  onStart(h: SimHost): void {
    // A restarted host never shows less than its own sectors showed at its start.
    this.heartbeatEpoch.set(h.id, h.epochFloor);
  }

  onOutputs(h: SimHost, input: Input, outputs: Output[]): void {
    this.checkSeedLines(h, outputs);
    // What status shows for a resource changes only with a resource input (a view per step
    // would cost O(hosts) per step in scale mode).
    if (input.kind === 'resource-event' || input.kind === 'resource-action-done') this.checkShownRunning(h);
    for (const out of outputs) {
      switch (out.kind) {
        case 'role-change':
          this.onRoleChange(h, out);
          break;
        case 'write-heartbeat': {
          const last = this.heartbeatEpoch.get(h.id) ?? 0;
          const e = out.record.payload.epoch;
          if (e < last) this.violation('epoch-went-back', h.id, `heartbeat epoch ${e} after ${last}`);
          this.heartbeatEpoch.set(h.id, Math.max(last, e));
          break;
        }
        case 'write-vote':
          if (out.record.payload.decided) this.recordDecision(h.id, out.record.payload.decided);
          break;
        case 'log':
          this.onLog(out.msg);
          break;
        case 'fence':
          if (out.victim === h.id) this.violation('fenced-self', h.id, `epoch ${out.epoch}`);
          break;
        case 'resource':
          if (out.action === 'promote') this.onPromote(h, out.resource, out.epoch);
          break;
        case 'grant-lease':
          this.onGrant(h, out);
          break;
        case 'revoke-authority':
          if (h.role === 'master') this.violation('revoke-while-master', h.id, out.reason);
          this.primaryGrants.delete(h.id);
          break;
        default:
          break;
      }
    }
  }

  /**
   * A preempt removed the victim's key of `keyEpoch` (any registrant may preempt: the
   * target does not judge). A fence for epoch E may remove only a registration made for an
   * older epoch, and never the key of the master of a newer epoch: an older master fencing
   * a newer one is a fencing war.
   */
  onPreempt(fencer: SimHost, victim: number, epoch: number, keyEpoch: number): void {
    if (this.world.knobs.fencing !== 'pr') return;
    if (keyEpoch >= epoch) {
      this.violation('stale-preempt', fencer.id, `a fence for epoch ${epoch} removed host ${victim}'s key of epoch ${keyEpoch}`);
      return;
    }
    const v = this.world.host(victim);
    if (v.role === 'master' && v.epoch > epoch) {
      this.violation('stale-preempt', fencer.id, `a fence for epoch ${epoch} preempted host ${victim}, master of the newer epoch ${v.epoch}`);
    }
  }

  private checkShownRunning(h: SimHost): void {
    const own = h.engine?.view().hosts.find((row) => row.hostId === h.id);
    own?.resources.forEach((state, i) => {
      const running = state === 'primary' || state === 'standby';
      if (running && h.dbs[i]?.toldConnected !== true) this.violation('shown-before-hb2', h.id, `resource ${i} shown ${state} before its database connected`);
    });
  }

  /**
   * "ycs run as primary successfully" comes with the step that makes a host master, and
   * only then; "try join primary" only from a host that is not master after the step.
   */
  private checkSeedLines(h: SimHost, outputs: Output[]): void {
    let promoted = false;
    let becameMaster = false;
    let primaryLine = false;
    let joinLine = false;
    let endRole = h.role;
    for (const out of outputs) {
      if (out.kind === 'role-change') {
        endRole = out.to;
        if (out.to === 'master') becameMaster = true;
        if (out.to === 'master' && out.from !== 'master') promoted = true;
      } else if (out.kind === 'log') {
        if (out.msg === SEED_LOG_LINES[1]) primaryLine = true;
        if (out.msg === SEED_LOG_LINES[2]) joinLine = true;
      }
    }
    if (promoted && !primaryLine) this.violation('seed-log-missing', h.id, `became master without "${SEED_LOG_LINES[1]}"`);
    if (primaryLine && !becameMaster) this.violation('seed-log-wrong', h.id, `"${SEED_LOG_LINES[1]}" without becoming master`);
    if (joinLine && endRole === 'master') this.violation('seed-log-wrong', h.id, `"${SEED_LOG_LINES[2]}" from the master`);
  }

  private onRoleChange(h: SimHost, out: Extract<Output, { kind: 'role-change' }>): void {
    if (out.from !== h.role) this.violation('role-from-mismatch', h.id, `role-change from ${out.from}, shell saw ${h.role}`);
    if (h.epoch > 0 && out.epoch < h.epoch) this.violation('epoch-went-back', h.id, `role epoch ${out.epoch} after ${h.epoch}`);
    h.role = out.to;
    h.epoch = out.epoch;
    h.masterId = out.masterId;
    if (out.to === 'evicted') this.evictions.push({ atMs: this.world.now, host: h.id, reason: out.reason });
    if (out.to !== 'master') return;
    const holder = this.masterOfEpoch.get(out.epoch);
    if (holder !== undefined && holder !== h.id) {
      this.violation('two-masters-one-epoch', h.id, `epoch ${out.epoch} already had master ${holder}`);
    }
    this.masterOfEpoch.set(out.epoch, h.id);
    const d = this.decided.get(out.epoch);
    if (d && (d.masterId !== h.id || !d.members.includes(h.id))) {
      this.violation('master-not-decided', h.id, `epoch ${out.epoch} decided ${JSON.stringify(d)}`);
    }
    this.maxMasterEpoch = Math.max(this.maxMasterEpoch, out.epoch);
    this.masterEvents.push({ atMs: this.world.now, host: h.id, epoch: out.epoch });
  }

  private recordDecision(host: number, d: Decision): void {
    const known = this.decided.get(d.epoch);
    if (known) {
      if (!sameDecision(known, d)) {
        this.violation('decision-changed', host, `epoch ${d.epoch}: ${JSON.stringify(known)} then ${JSON.stringify(d)}`);
      }
      return;
    }
    this.decided.set(d.epoch, { epoch: d.epoch, masterId: d.masterId, members: [...d.members] });
    this.decidedAtMs.set(d.epoch, this.world.now);
    const holder = this.masterOfEpoch.get(d.epoch);
    if (holder !== undefined && holder !== d.masterId) {
      this.violation('master-not-decided', holder, `epoch ${d.epoch} decided master ${d.masterId}`);
    }
  }

  private onLog(msg: string): void {
    for (const line of SEED_LOG_LINES) {
      if (msg === line) this.logCounts.set(line, (this.logCounts.get(line) ?? 0) + 1);
    }
  }

  private onPromote(h: SimHost, resource: number, epoch: number): void {
    if (h.role !== 'master') this.violation('promote-without-master', h.id, `resource ${resource} epoch ${epoch}`);
    const d = this.decided.get(epoch);
    if (d && d.masterId !== h.id) this.violation('promote-not-decided', h.id, `epoch ${epoch} master is ${d.masterId}`);
  }

  /** A host registers at the storage only while a decision admits it (never before). */
  onRegister(h: SimHost, epoch: number): void {
    if (this.world.etcd !== null) return checkRegister(this.world, this, h, epoch);
    const d = this.decided.get(epoch);
    if (!d) this.violation('register-without-decision', h.id, `epoch ${epoch} has no known decision`);
    else if (!d.members.includes(h.id)) this.violation('register-not-admitted', h.id, `epoch ${epoch} members ${d.members.join(',')}`);
  }

  /** After every step: the stepping host, if master, must be the only acting master. */
  afterStep(h: SimHost): void {
    checkRecordHolder(this.world, this, h);
    if (h.role !== 'master' || !this.acting(h)) return;
    if (h.epoch < this.maxMasterEpoch) {
      this.violation('stale-master-acting', h.id, `master of epoch ${h.epoch} acts after epoch ${this.maxMasterEpoch} was promoted`);
    }
    for (const g of this.world.hosts) {
      if (g !== h && g.role === 'master' && this.acting(g)) {
        this.violation('two-masters-acting', h.id, `host ${h.id} (epoch ${h.epoch}) and host ${g.id} (epoch ${g.epoch})`);
      }
    }
  }

  onHostStateChanged(h: SimHost, what: string): void {
    if (what === 'crash' || what === 'exit') this.primaryGrants.delete(h.id); // its databases died with it
    for (let r = 0; r < this.world.resources.length; r++) this.onPrimariesChanged(r);
    this.checkStore();
  }

  /** etcd mode: every host against the leader record, also whenever a campaign creates it. */
  watchStore(model: EtcdModel): void {
    model.onHolderChange = () => this.checkStore();
  }

  private checkStore(): void {
    if (this.world.etcd !== null) for (const g of this.world.hosts) checkRecordHolder(this.world, this, g);
  }

  /** The latest end (own clock) of the primary grants a host emitted as master, if any. */
  primaryGrantEnd(host: number): number | undefined {
    const grants = this.primaryGrants.get(host);
    return grants === undefined || grants.size === 0 ? undefined : Math.max(...grants.values());
  }

  onPrimariesChanged(resource: number): void {
    const acting = this.world.hosts.filter((h) => {
      const db = h.dbs[resource];
      return db?.actsAsPrimary(h.localNow()) === true && h.alive && !h.frozen && !this.world.storage.fencedFromData(h.id);
    });
    if (acting.length > 1) {
      const who = acting.map((h) => `host ${h.id} epoch ${h.dbs[resource]?.epoch}`).join(', ');
      this.violation('two-primaries-acting', acting[0]?.id ?? 0, `resource ${resource}: ${who}`);
    }
  }

  /** A primary grant only from the master, and never more than one lease ahead. */
  private onGrant(h: SimHost, g: Extract<Output, { kind: 'grant-lease' }>): void {
    if (!g.primary) return;
    if (h.role !== 'master') this.violation('primary-grant-not-master', h.id, `resource ${g.resource} role ${h.role}`);
    const leaseMs = this.world.timeouts.leaseMs;
    if (this.world.options.brokenRule === undefined && g.untilMs > h.localNow() + leaseMs) {
      this.violation('primary-grant-too-long', h.id, `resource ${g.resource} until ${g.untilMs} is beyond ${h.localNow()} + lease ${leaseMs}`);
    }
    const grants = this.primaryGrants.get(h.id) ?? new Map<number, number>();
    grants.set(g.resource, g.untilMs);
    this.primaryGrants.set(h.id, grants);
  }

  onDataWrite(h: SimHost, resource: number, epoch: number): void {
    const until = this.primaryGrants.get(h.id)?.get(resource);
    if (until === undefined || h.localNow() >= until) {
      this.violation('write-outside-lease', h.id, `resource ${resource} epoch ${epoch} wrote at ${h.localNow()}, primary grant until ${until ?? 'none'}`);
    }
    const last = this.lastWrite.get(resource);
    if (last && last.epoch > epoch) {
      this.violation('stale-primary-write', h.id, `resource ${resource} epoch ${epoch} after host ${last.host} wrote at epoch ${last.epoch}`);
    } else if (last && last.epoch === epoch && last.host !== h.id) {
      this.violation('two-primaries-one-epoch', h.id, `resource ${resource} epoch ${epoch} also written by host ${last.host}`);
    }
    const d = this.decided.get(epoch);
    if (d && d.masterId !== h.id) this.violation('primary-not-decided', h.id, `resource ${resource} epoch ${epoch} master is ${d.masterId}`);
    if (!last || epoch >= last.epoch) this.lastWrite.set(resource, { host: h.id, epoch });
  }


  /** A host that currently acts as master, if any (for liveness and the report). */
  actingMaster(): SimHost | undefined {
    return this.world.hosts.find((h) => h.role === 'master' && this.acting(h));
  }
}
