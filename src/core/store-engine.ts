// The cluster engine of one host in lease-store mode (etcd, docs/etcd-mode.md): the same
// pure state machine contract as engine.ts (inputs with the host's own time, outputs the
// shells carry out), with the store's lease in place of Disk Paxos and the master window.
//  - The master is the host whose lease holds the leader record; the record's create
//    revision is the epoch. A host campaigns (create-if-absent) only as a standby whose
//    resources all run as standbys, and not for a while after it gave the lease up.
//  - The master acts only until masterEnd() of the last keepalive the store acknowledged
//    (store-timeouts.ts), and grants its databases primary authority no further.
//  - A master whose database failed demotes, then resigns (revokes its lease) once no
//    primary grant it gave is still running, or at once when the storage is PR-fenced:
//    the next master fences it before promoting.
//  - A new master with PR fencing registers, reserves and preempts the previous holder
//    (TermFence) before it promotes.
// Every role change goes through the transition table of transitions.ts.

import { assert } from './assert.js';
import { resolveConfig, type BrokenRules, type EngineConfigInput } from './config.js';
import type { Engine } from './engine.js';
import { LOG_JOIN, LOG_PRIMARY } from './host-role.js';
import { preemptable } from './key-epochs.js';
import { LeaseGrants } from './leases.js';
import { Publisher } from './publish.js';
import { Resources } from './resources.js';
import { StorePeers } from './store-peers.js';
import { masterEnd, type StoreTimeouts } from './store-timeouts.js';
import { TermFence } from './term-fence.js';
import { reconnectWaitMs, type Timeouts } from './timeouts.js';
import { requireTransition, type RoleEvent } from './transitions.js';
import type { ClusterView, HostId, Input, LeaderRecord, LogLevel, Output, Role, StoreCall, StoreResult } from './types.js';

const MAX_KEEPALIVES_IN_FLIGHT = 4;

export interface StoreEngineConfig {
  hostId: HostId;
  hostIds: HostId[];
  resources: string[];
  /** As in EngineConfig: shown as running only once connected over heartbeat 2. */
  heartbeat2Required?: boolean[];
  timeouts: Timeouts;
  store: StoreTimeouts;
  incarnation: number;
  fencing: 'pr' | 'none';
  /** With 'pr': the fenced devices (the data disks), as the fence shell numbers them. */
  fenceDeviceCount: number;
  /** The highest epoch this host followed before (the fencing token never goes below it). */
  epochFloor?: number;
  /** Simulator only (config.ts BrokenRules): skipSelfFence keeps the master acting past its term's end. */
  rules?: Pick<BrokenRules, 'skipSelfFence'>;
}

export function createStoreEngine(input: Omit<EngineConfigInput, 'diskCount'> & { store: StoreTimeouts }): StoreEngine {
  const checked = resolveConfig({ ...input, diskCount: 1 }); // the same checks; no voting disks here
  return new StoreEngine({ ...checked, store: input.store });
}

/** The term this host holds at the store. */
interface Term {
  epoch: number;
  lease: string;
  /** Own clock: the step that won it (reads sent later must show it). */
  wonAtMs: number;
  /** Own clock: the role ends here unless a keepalive acknowledgement moves it. */
  endMs: number;
  nextKeepaliveAtMs: number;
  fence: TermFence | null;
}

interface Pending {
  call: StoreCall;
  sentAtMs: number;
  /** A keepalive of our own lease found in the record after a restart (same epoch). */
  adopt?: LeaderRecord;
}

export class StoreEngine implements Engine {
  readonly config: StoreEngineConfig;
  private readonly t: Timeouts;
  private readonly s: StoreTimeouts;
  private readonly self: HostId;
  private readonly resources: Resources;
  private readonly leases: LeaseGrants;
  private readonly publisher: Publisher;
  private readonly peers: StorePeers;
  #role: Role = 'starting';
  private holder: LeaderRecord | null = null;
  private term: Term | null = null;
  private epochSeen: number;
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private nextReadAtMs = 0;
  private nextPublishAtMs = 0;
  private publishedJson = '';
  private noCampaignUntilMs = 0;
  /** A lease given up while primary grants may still run: revoked once they ended. */
  private resignAt: { lease: string; atMs: number } | null = null;
  private primaryUntilMs = -Infinity;
  private adoptTried = '';
  /**
   * Adopting our own record is only for a lease from before a restart: once this
   * incarnation campaigned or held a term, a record naming us may carry a lease that is
   * being revoked (a resign in flight, or the store's revoke of a campaign whose answer
   * was lost), and a keepalive reaching it first would make us master of a record that
   * then vanishes (simulator, etcd mode: seeds 159 and 276).
   */
  private mayAdopt = true;
  private started = false;
  private startedAtMs = 0;
  private lastStepMs = 0;
  private exited = false;

  constructor(config: StoreEngineConfig) {
    this.config = config;
    this.t = config.timeouts;
    this.s = config.store;
    this.self = config.hostId;
    this.epochSeen = config.epochFloor ?? 0;
    this.resources = new Resources(config.resources, this.t.networkHbTimeoutMs, this.t.resourceRetryMs, config.heartbeat2Required);
    this.leases = new LeaseGrants(config.resources.length, this.s.ttlMs);
    this.publisher = new Publisher(this.self, config.incarnation, 0, this.t);
    this.peers = new StorePeers(this.self, config.hostIds, this.t.networkHbTimeoutMs);
  }

  get role(): Role {
    return this.#role;
  }

  /** The epoch this host follows: its own term's, else the last holder's it saw. */
  get epoch(): number {
    return this.term?.epoch ?? this.holder?.epoch ?? this.epochSeen;
  }

  get masterId(): HostId | 0 {
    if (this.#role === 'master') return this.self;
    return this.holder?.hostId ?? 0;
  }

  view(): ClusterView {
    return this.peers.view(this.lastStepMs, { role: this.#role, epoch: this.epoch, masterId: this.masterId, resources: this.resources.shownStates() });
  }

  windowEndMs(): number | null {
    return this.#role === 'master' ? (this.term?.endMs ?? null) : null;
  }

  step(input: Input): Output[] {
    const out: Output[] = [];
    const now = input.nowMs;
    if (input.kind === 'start') {
      assert(!this.started, 'start given twice');
      this.started = true;
      this.startedAtMs = now;
      if (this.config.incarnation > 1) this.resources.awaitReconnects(now + reconnectWaitMs(this.t));
      this.log(out, 'info', 'engine started', { mode: 'etcd', incarnation: this.config.incarnation, epochFloor: this.epochSeen, ttlMs: this.s.ttlMs });
    } else {
      assert(this.started, () => `'${input.kind}' before 'start'`);
      assert(now >= this.lastStepMs, () => `time went back (${now} < ${this.lastStepMs})`);
      if (now - this.lastStepMs > this.t.pauseBoundMs) {
        this.log(out, 'warn', 'engine was paused: reading the store again before acting', { pausedMs: now - this.lastStepMs });
        this.peers.onPause(this.lastStepMs, now);
        this.nextReadAtMs = now;
      }
    }
    this.lastStepMs = now;
    this.checkTerm(now, out); // a host waking from a pause stops first, then looks at the input
    this.handle(input, out);
    this.checkTerm(now, out);
    this.afterInput(now, out);
    this.checkInvariants(now);
    return out;
  }

  private handle(input: Input, out: Output[]): void {
    const now = input.nowMs;
    switch (input.kind) {
      case 'store-done':
        return this.onStoreDone(now, input.requestId, input.result, out);
      case 'net-heartbeat':
        return this.peers.onNetHeartbeat(now, input.message);
      case 'resource-event': {
        const failed = this.resources.onEvent(now, input.resource, input.event);
        if (failed !== null) this.onResourceFailed(now, failed, input.event, out);
        return;
      }
      case 'resource-action-done':
        this.resources.onActionDone(now, input.resource, input.action, input.ok);
        if (!input.ok) this.log(out, 'warn', 'resource action failed', { resource: input.resource, action: input.action });
        return;
      case 'fence-step-done':
        this.term?.fence?.onStepDone(now, input.step, input.device, input.ok, input.sessionReset === true);
        if (!input.ok) this.log(out, 'warn', `fencing step ${input.step} failed`, { device: input.device, detail: input.detail });
        return;
      case 'fence-done':
        this.log(out, input.ok ? 'info' : 'warn', input.ok ? 'fenced host' : 'fencing failed', { victim: input.victim, detail: input.detail });
        this.term?.fence?.onFenceDone(now, input.victim, input.ok);
        return;
      case 'shutdown':
        if (this.#role !== 'leaving') this.giveUp(now, 'shutdown', false, out);
        return;
      default:
        return; // start, tick; disk inputs do not occur in this mode
    }
  }

  // ---- the store's answers ----------------------------------------------------------

  private onStoreDone(now: number, requestId: number, r: StoreResult, out: Output[]): void {
    const p = this.pending.get(requestId);
    if (p === undefined) return; // given up on already
    this.pending.delete(requestId);
    assert(p.call.op === r.op, () => `store answer '${r.op}' to a '${p.call.op}' call`);
    if (!r.ok) {
      this.log(out, 'debug', `store call ${r.op} failed`, { error: r.error });
      return; // a read or keepalive is tried again when due; a failed campaign left nothing behind
    }
    switch (r.op) {
      case 'read':
        this.peers.onRecords(r.hosts);
        // A linearizable read sent after we won that does not show our record: the lease is gone.
        if (this.term !== null && p.sentAtMs > this.term.wonAtMs && r.holder?.lease !== this.term.lease) this.lose(now, 'the store shows our record gone', out);
        return this.onHolder(now, r.holder, out, p.sentAtMs);
      case 'campaign':
        if (!r.won) return this.onHolder(now, r.holder, out, p.sentAtMs);
        return this.onWon(now, { hostId: this.self, epoch: r.epoch, lease: r.lease }, masterEnd(p.sentAtMs, Math.min(r.ttlMs, this.s.ttlMs), this.s), r.previous, out);
      case 'keepalive':
        return this.onKeepalive(now, p, r.ttlMs, out);
      default:
        return;
    }
  }

  /** `sentAtMs`: when the call that brought `holder` was sent (adoption needs a late enough one). */
  private onHolder(now: number, holder: LeaderRecord | null, out: Output[], sentAtMs: number): void {
    this.holder = holder !== null && holder.hostId === 0 ? null : holder;
    if (holder !== null) this.epochSeen = Math.max(this.epochSeen, holder.epoch);
    if (this.#role === 'starting') this.transition('decided-standby', now, out);
    const h = this.holder;
    if (h !== null && h.hostId !== this.self && this.#role === 'standby' && this.noteMaster(h)) this.log(out, 'info', LOG_JOIN, { masterId: h.hostId, epoch: h.epoch });
    // Our own lease from before a restart of ycs: keep it alive instead of waiting for it to
    // lapse. Only from a read sent one call deadline after this run started: a call of the
    // previous run (a resign) lands within its deadline or not at all, so such a read
    // shows its effect (simulator, etcd mode: seed 1105).
    const afterOldCalls = sentAtMs >= this.startedAtMs + this.s.callDeadlineMs;
    if (h !== null && h.hostId === this.self && this.term === null && this.mayAdopt && afterOldCalls && this.adoptTried !== h.lease && this.#role === 'standby') {
      this.adoptTried = h.lease;
      this.call(now, { op: 'keepalive', lease: h.lease }, out, h);
    }
  }

  private lastMasterLogged = '';
  private noteMaster(h: LeaderRecord): boolean {
    const key = `${h.hostId}@${h.epoch}`;
    if (key === this.lastMasterLogged) return false;
    this.lastMasterLogged = key;
    return true;
  }

  private onKeepalive(now: number, p: Pending, ttlMs: number, out: Output[]): void {
    const end = masterEnd(p.sentAtMs, Math.min(ttlMs, this.s.ttlMs), this.s);
    if (p.adopt !== undefined) {
      if (ttlMs > 0 && this.term === null && this.#role === 'standby' && end > now) this.onWon(now, p.adopt, end, this.self, out);
      return;
    }
    const term = this.term;
    if (term === null || p.call.op !== 'keepalive' || p.call.lease !== term.lease) return;
    if (ttlMs === 0) return this.lose(now, 'the store dropped our lease', out);
    // Each acknowledgement bounds the store's expiry on its own; a late one never shortens it.
    term.endMs = Math.max(term.endMs, end);
  }

  private onWon(now: number, record: LeaderRecord, endMs: number, previous: HostId | 0, out: Output[]): void {
    this.holder = record;
    this.mayAdopt = false;
    if (record.epoch < this.epochSeen || endMs <= now) {
      // An epoch below one this host followed (a store reset) or a grant that came back too late.
      this.log(out, 'error', 'won a term that cannot be used: giving it up', { epoch: record.epoch, epochSeen: this.epochSeen, late: endMs <= now });
      this.call(now, { op: 'resign', lease: record.lease }, out);
      return;
    }
    this.epochSeen = record.epoch;
    const victim = previous === this.self ? 0 : previous;
    const fence = this.config.fencing === 'pr' ? new TermFence(this.config.fenceDeviceCount, victim, record.epoch, this.t.fenceRetryMs) : null;
    this.term = { epoch: record.epoch, lease: record.lease, wonAtMs: now, endMs, nextKeepaliveAtMs: now + this.s.keepaliveIntervalMs, fence };
    this.log(out, 'info', 'won the master lease', { epoch: record.epoch, previous, validForMs: Math.round(endMs - now) });
    fence?.start(out);
    this.checkPromotion(now, out);
  }

  private checkPromotion(now: number, out: Output[]): void {
    const term = this.term;
    if (term === null || this.#role === 'master' || this.#role === 'leaving') return;
    term.fence?.retryIfDue(now, out);
    if (term.fence !== null && !term.fence.complete) return;
    this.transition('promote-ready', now, out);
    this.log(out, 'info', LOG_PRIMARY, { epoch: term.epoch, by: term.fence === null ? 'lease won' : 'lease won and previous master fenced' });
  }

  // ---- losing and giving up the term ------------------------------------------------

  /** Invariant: never master (nor about to be) past the end of the last acknowledged keepalive. */
  private checkTerm(now: number, out: Output[]): void {
    if (this.term !== null && now >= this.term.endMs && this.config.rules?.skipSelfFence !== true) this.lose(now, 'could not renew the lease at the store in time', out);
  }

  private lose(now: number, why: string, out: Output[]): void {
    const term = this.term;
    if (term === null) return;
    this.term = null;
    this.primaryUntilMs = -Infinity;
    this.noCampaignUntilMs = now + this.s.resignHoldoffMs;
    this.log(out, 'warn', `master lease lost: ${why}`, { epoch: term.epoch });
    if (this.#role === 'master') this.transition('lease-lost', now, out);
    // Its grants ended with the term: revoking the lease now frees the record at once.
    this.call(now, { op: 'resign', lease: term.lease }, out);
  }

  private onResourceFailed(now: number, index: number, event: string, out: Output[]): void {
    this.log(out, 'warn', 'resource failed', { resource: this.config.resources[index], why: event });
    if (this.#role === 'master' || this.term !== null) this.giveUp(now, 'resource-failed', event === 'disconnected', out);
  }

  /**
   * Leaves the master role and gives the lease up: at once when nothing we granted can
   * still write (the database crashed and was the only one, or the next master fences us),
   * else once the last primary grant ended.
   */
  private giveUp(now: number, event: RoleEvent, crashed: boolean, out: Output[]): void {
    const term = this.term;
    if (this.#role === 'master' || event === 'shutdown') this.transition(event, now, out);
    if (term === null) return;
    this.term = null;
    this.noCampaignUntilMs = now + this.s.resignHoldoffMs;
    const atOnce = this.config.fencing === 'pr' || (crashed && this.config.resources.length === 1);
    const atMs = atOnce ? now : Math.min(term.endMs, Math.max(now, this.primaryUntilMs));
    this.resignAt = { lease: term.lease, atMs };
    this.primaryUntilMs = -Infinity;
  }

  // ---- periodic work ----------------------------------------------------------------

  private afterInput(now: number, out: Output[]): void {
    this.expireCalls(now);
    for (const index of this.resources.checkHeartbeats(now)) this.onResourceFailed(now, index, 'heartbeat 2 silent', out);
    this.checkPromotion(now, out);
    if (!this.exited) this.periodic(now, out);
    this.resources.reconcile(now, this.#role, this.epoch, out);
    this.grantLeases(now, out);
    if (this.#role === 'leaving' && !this.exited && this.resources.allStopped()) {
      if (this.resignAt !== null) this.call(now, { op: 'resign', lease: this.resignAt.lease }, out); // stopped databases write nothing
      this.resignAt = null;
      this.exited = true;
      out.push({ kind: 'exit', reason: 'shutdown requested and every resource stopped' });
    }
  }

  private periodic(now: number, out: Output[]): void {
    const term = this.term;
    // Keepalives do not wait for each other: one stuck on a member that just died must not
    // hold back the next, which may reach the new leader (a few may be in flight at once).
    if (term !== null && now >= term.nextKeepaliveAtMs && this.inFlightCount('keepalive') < MAX_KEEPALIVES_IN_FLIGHT) {
      term.nextKeepaliveAtMs = now + this.s.keepaliveIntervalMs;
      this.call(now, { op: 'keepalive', lease: term.lease }, out);
    }
    if (now >= this.nextReadAtMs && !this.inFlight('read')) {
      this.nextReadAtMs = now + (term === null ? this.s.pollIntervalMs : this.s.keepaliveIntervalMs);
      this.call(now, { op: 'read' }, out);
    }
    if (this.resignAt !== null && now >= this.resignAt.atMs) {
      this.call(now, { op: 'resign', lease: this.resignAt.lease }, out);
      this.resignAt = null;
    }
    if (this.mayCampaign(now)) this.call(now, { op: 'campaign', hostId: this.self, ttlMs: this.s.ttlMs }, out);
    this.publish(now, out);
    const decision = { epoch: this.epoch, masterId: this.masterId || this.self, members: this.config.hostIds };
    const shown = { role: this.#role, decision: this.masterId === 0 ? null : decision, resources: [], awaitingHb2: [], promoting: false };
    if (this.publisher.netDue(now, shown)) out.push({ kind: 'send-heartbeat', message: this.publisher.netMessage(now, { ...shown, heard: this.peers.heardSet(now) }) });
  }

  /** Engine.fenceWanted: only the term that asked for the fence, while it lasts. */
  fenceWanted(victim: HostId, epoch: number): boolean {
    return this.term !== null && this.term.epoch === epoch && this.term.fence?.victim === victim;
  }

  /** Engine.mayPreempt: a term's keys carry its epoch; an older term's holder may be removed. */
  mayPreempt(keyEpoch: number | null, fenceEpoch: number): boolean {
    return preemptable(keyEpoch, fenceEpoch);
  }

  /** A standby with every database running as a standby campaigns when the record is gone. */
  private mayCampaign(now: number): boolean {
    if (this.#role !== 'standby' || this.term !== null || this.holder !== null || now < this.noCampaignUntilMs) return false;
    if (this.inFlight('campaign') || this.resignAt !== null) return false;
    return this.resources.states().every((s) => s === 'standby');
  }

  /** Our host record, when it changed or every NETWORK_HB_TIMEOUT. */
  private publish(now: number, out: Output[]): void {
    const record = { hostId: this.self, incarnation: this.config.incarnation, role: this.#role, epoch: this.epoch, masterId: this.masterId, resources: this.resources.states(), awaitingHb2: indexesOf(this.resources.awaitingHb2()) };
    const json = JSON.stringify(record);
    if ((json === this.publishedJson && now < this.nextPublishAtMs) || this.inFlight('publish')) return;
    this.publishedJson = json;
    this.nextPublishAtMs = now + this.t.networkHbTimeoutMs;
    this.call(now, { op: 'publish', record }, out);
  }

  /** Master: primary grants of at most primaryGrantMs, never past the term; elsewhere liveness grants. */
  private grantLeases(now: number, out: Output[]): void {
    if (this.exited) return;
    const term = this.term;
    if (this.#role !== 'master' || term === null) return this.leases.grantAlive(now, out);
    const endMs = this.config.rules?.skipSelfFence === true ? Infinity : term.endMs; // broken on purpose: grants past the term
    if (this.primaryUntilMs - now < this.s.primaryGrantMs / 2 || this.primaryUntilMs > endMs) {
      this.primaryUntilMs = Math.min(endMs, now + this.s.primaryGrantMs);
    }
    this.leases.grantPrimary(now, this.primaryUntilMs, out);
  }

  // ---- plumbing -----------------------------------------------------------------------

  private call(now: number, call: StoreCall, out: Output[], adopt?: LeaderRecord): void {
    if (call.op === 'campaign') this.mayAdopt = false;
    const requestId = this.nextRequestId++;
    this.pending.set(requestId, adopt === undefined ? { call, sentAtMs: now } : { call, sentAtMs: now, adopt });
    out.push({ kind: 'store', requestId, call });
  }

  private inFlight(op: StoreCall['op']): boolean {
    return this.inFlightCount(op) > 0;
  }

  private inFlightCount(op: StoreCall['op']): number {
    let n = 0;
    for (const p of this.pending.values()) if (p.call.op === op) n += 1;
    return n;
  }

  /** A call unanswered after twice its deadline is forgotten (its late answer is ignored). */
  private expireCalls(now: number): void {
    for (const [id, p] of this.pending) if (now - p.sentAtMs > 2 * this.s.callDeadlineMs) this.pending.delete(id);
  }

  private transition(event: RoleEvent, now: number, out: Output[]): void {
    const row = requireTransition(this.#role, event);
    const from = this.#role;
    if (row.to === 'master') assert(this.term !== null && now < this.term.endMs, 'becoming master without a valid term');
    if (row.to === from) return;
    this.#role = row.to;
    out.push({ kind: 'role-change', from, to: row.to, epoch: this.epoch, masterId: this.masterId, reason: row.reason });
    this.log(out, 'info', `role ${from} -> ${row.to}: ${row.reason}`, { event });
    if (from === 'master') this.leases.revoke(row.reason, out); // write authority goes now, not when a queued demote runs
  }

  private checkInvariants(now: number): void {
    if (this.#role !== 'master' || this.config.rules?.skipSelfFence === true) return;
    assert(this.term !== null && now < this.term.endMs, () => `master past its term (${this.term?.endMs} <= ${now})`);
    assert(this.primaryUntilMs <= this.term.endMs, 'a primary grant past the term');
  }

  private log(out: Output[], level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    out.push(fields === undefined ? { kind: 'log', level, msg } : { kind: 'log', level, msg, fields });
  }
}

function indexesOf(flags: boolean[]): number[] {
  return flags.flatMap((set, i) => (set ? [i] : []));
}
