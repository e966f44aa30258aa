// The etcd-mode engine (src/core/store-engine.ts) driven step by step: the rules its
// header states, each with an input sequence that would break it.
import { describe, expect, it } from 'vitest';
import { createStoreEngine, type StoreEngine } from '../../src/core/store-engine.js';
import { deriveStoreTimeouts, masterEnd } from '../../src/core/store-timeouts.js';
import { deriveTimeouts } from '../../src/core/timeouts.js';
import type { Input, Output, StoreCall, StoreResult } from '../../src/core/types.js';

const T = deriveTimeouts();
const S = deriveStoreTimeouts(3_000, T);

class Driver {
  readonly engine: StoreEngine;
  now = 1_000;
  readonly outputs: Output[] = [];
  constructor(opts: { resources?: string[]; fencing?: 'pr' | 'none'; incarnation?: number } = {}) {
    this.engine = createStoreEngine({
      hostId: 1,
      hostIds: [1, 2, 3],
      resources: opts.resources ?? ['db'],
      timeouts: T,
      store: S,
      incarnation: opts.incarnation ?? 1,
      fencing: opts.fencing ?? 'none',
      fenceDeviceCount: opts.fencing === 'pr' ? 1 : 0,
    });
    this.step({ kind: 'start', nowMs: this.now });
  }
  /** Own-clock time of the step that emitted each store call. */
  readonly sentAt = new Map<number, number>();
  step(input: Input): Output[] {
    const out = this.engine.step(input);
    this.outputs.push(...out);
    for (const o of out) if (o.kind === 'store') this.sentAt.set(o.requestId, input.nowMs);
    return out;
  }
  private connected = false;
  /** Time passes; a connected database keeps sending heartbeat 2. */
  tick(ms = 50): Output[] {
    this.now += ms;
    const out = this.connected ? this.step({ kind: 'resource-event', nowMs: this.now, resource: 0, event: 'heartbeat' }) : [];
    return [...out, ...this.step({ kind: 'tick', nowMs: this.now })];
  }
  /** The newest unanswered store call of `op` among the outputs so far. */
  call(op: StoreCall['op']): { requestId: number; call: StoreCall } {
    const o = this.outputs.filter((x): x is Extract<Output, { kind: 'store' }> => x.kind === 'store' && x.call.op === op).at(-1);
    if (o === undefined) throw new Error(`no ${op} call`);
    return o;
  }
  answer(op: StoreCall['op'], result: StoreResult): Output[] {
    return this.step({ kind: 'store-done', nowMs: this.now, requestId: this.call(op).requestId, result });
  }
  private answered = 0;
  /** Answers every resource action issued so far (ok), in order, and the database connects. */
  dbRunsAsStandby(): void {
    for (let i = 0; i < 10; i++) {
      const actions = this.outputs.filter((o): o is Extract<Output, { kind: 'resource' }> => o.kind === 'resource');
      const next = actions[this.answered];
      if (next === undefined) break;
      this.answered += 1;
      this.step({ kind: 'resource-action-done', nowMs: this.now, resource: next.resource, action: next.action, ok: true });
    }
    this.step({ kind: 'resource-event', nowMs: this.now, resource: 0, event: 'connected' });
    this.connected = true;
  }
  /** Starting -> standby -> a campaign won at `sentAtMs` = now. */
  becomeMaster(previous: number | 0 = 0): number {
    this.answer('read', { op: 'read', ok: true, holder: null, hosts: [] });
    this.dbRunsAsStandby();
    this.tick(S.pollIntervalMs + 10);
    const sentAt = this.sentAt.get(this.call('campaign').requestId) ?? NaN;
    this.tick(5);
    this.answer('campaign', { op: 'campaign', ok: true, won: true, epoch: 7, lease: 'L7', ttlMs: 3_000, previous });
    return sentAt;
  }
}

const roleChanges = (out: Output[]) => out.filter((o) => o.kind === 'role-change').map((o) => (o.kind === 'role-change' ? `${o.from}->${o.to}` : ''));

describe('store engine', () => {
  it('campaigns only as a standby whose databases run as standbys, when the record is gone', () => {
    const d = new Driver();
    d.answer('read', { op: 'read', ok: true, holder: null, hosts: [] });
    expect(d.engine.role).toBe('standby');
    d.tick(S.pollIntervalMs + 10);
    expect(d.outputs.some((o) => o.kind === 'store' && o.call.op === 'campaign')).toBe(false); // its database is not running yet
    d.dbRunsAsStandby();
    d.tick(S.pollIntervalMs + 10);
    expect(d.call('campaign').call).toEqual({ op: 'campaign', hostId: 1, ttlMs: 3_000 });
  });

  it('acts as master only until the end of the last acknowledged keepalive, and never grants past it', () => {
    const d = new Driver();
    const sentAt = d.becomeMaster();
    expect(d.engine.role).toBe('master');
    const end = masterEnd(sentAt, 3_000, S);
    expect(d.engine.windowEndMs()).toBe(end);
    // Keepalives go out but none is answered: the role ends exactly at the end.
    while (d.now + 50 < end) {
      d.tick();
      expect(d.engine.role).toBe('master');
    }
    for (const o of d.outputs) if (o.kind === 'grant-lease' && o.primary) expect(o.untilMs).toBeLessThanOrEqual(end);
    const out = d.tick();
    expect(roleChanges(out)).toEqual(['master->standby']);
    expect(out.find((o) => o.kind === 'revoke-authority')).toBeDefined();
    expect(out.find((o) => o.kind === 'store' && o.call.op === 'resign')).toMatchObject({ call: { op: 'resign', lease: 'L7' } });
    expect(d.outputs.filter((o) => o.kind === 'store' && o.call.op === 'keepalive').length).toBeGreaterThanOrEqual(4);
  });

  it('a keepalive answered late moves the end from its own send time; a stale answer never shortens it', () => {
    const d = new Driver();
    d.becomeMaster();
    d.tick(S.keepaliveIntervalMs);
    const first = d.call('keepalive');
    const firstSent = d.now;
    d.tick(S.keepaliveIntervalMs);
    const second = d.call('keepalive');
    const secondSent = d.now;
    d.tick(400);
    d.step({ kind: 'store-done', nowMs: d.now, requestId: second.requestId, result: { op: 'keepalive', ok: true, ttlMs: 3_000 } });
    expect(d.engine.windowEndMs()).toBe(masterEnd(secondSent, 3_000, S));
    d.step({ kind: 'store-done', nowMs: d.now, requestId: first.requestId, result: { op: 'keepalive', ok: true, ttlMs: 3_000 } });
    expect(d.engine.windowEndMs()).toBe(masterEnd(secondSent, 3_000, S));
    expect(masterEnd(firstSent, 3_000, S)).toBeLessThan(masterEnd(secondSent, 3_000, S));
    // A TTL of 0: the store dropped the lease; the master stops at once.
    d.tick(S.keepaliveIntervalMs);
    expect(roleChanges(d.answer('keepalive', { op: 'keepalive', ok: true, ttlMs: 0 }))).toEqual(['master->standby']);
  });

  it('its only database crashed: demotes and resigns at once; then holds off its own campaign', () => {
    const d = new Driver();
    d.becomeMaster();
    d.tick();
    const out = d.step({ kind: 'resource-event', nowMs: d.now, resource: 0, event: 'disconnected' });
    expect(roleChanges(out)).toEqual(['master->standby']);
    expect(out.find((o) => o.kind === 'store' && o.call.op === 'resign')).toBeDefined();
    d.answer('read', { op: 'read', ok: true, holder: null, hosts: [] });
    d.dbRunsAsStandby();
    const campaignsBefore = d.outputs.filter((o) => o.kind === 'store' && o.call.op === 'campaign').length;
    d.tick(S.resignHoldoffMs - 100);
    expect(d.outputs.filter((o) => o.kind === 'store' && o.call.op === 'campaign').length).toBe(campaignsBefore);
  });

  it('a silent database (it may still live): resigns only once its last primary grant ended', () => {
    const d = new Driver();
    d.becomeMaster();
    d.tick();
    const grant = d.outputs.filter((o): o is Extract<Output, { kind: 'grant-lease' }> => o.kind === 'grant-lease' && o.primary).at(-1)!;
    const out = d.step({ kind: 'resource-event', nowMs: d.now, resource: 0, event: 'monitor-failed' });
    expect(roleChanges(out)).toEqual(['master->standby']);
    expect(out.find((o) => o.kind === 'store' && o.call.op === 'resign')).toBeUndefined();
    let resignedAt: number | undefined;
    while (resignedAt === undefined && d.now < grant.untilMs + 200) if (d.tick(10).some((o) => o.kind === 'store' && o.call.op === 'resign')) resignedAt = d.now;
    expect(resignedAt).toBeGreaterThanOrEqual(grant.untilMs);
  });

  it('with PR fencing: registers, reserves and preempts the previous holder before promoting; a failed preempt is retried', () => {
    const d = new Driver({ fencing: 'pr' });
    d.becomeMaster(3);
    const steps = d.outputs.filter((o) => o.kind === 'register' || o.kind === 'reserve' || o.kind === 'fence').map((o) => o.kind);
    expect(steps).toEqual(['register', 'reserve', 'fence']);
    expect(d.engine.role).toBe('standby');
    d.step({ kind: 'fence-step-done', nowMs: d.now, step: 'register', device: 0, ok: true });
    d.step({ kind: 'fence-step-done', nowMs: d.now, step: 'reserve', device: 0, ok: true });
    d.step({ kind: 'fence-done', nowMs: d.now, victim: 3, ok: false, detail: 'target down' });
    d.tick(T.fenceRetryMs - 100);
    expect(d.engine.role).toBe('standby');
    d.tick(200);
    expect(d.outputs.filter((o) => o.kind === 'fence').length).toBe(2);
    d.step({ kind: 'fence-step-done', nowMs: d.now, step: 'register', device: 0, ok: true });
    d.step({ kind: 'fence-step-done', nowMs: d.now, step: 'reserve', device: 0, ok: true });
    expect(roleChanges(d.step({ kind: 'fence-done', nowMs: d.now, victim: 3, ok: true }))).toEqual(['standby->master']);
  });

  it('after a restart of ycs it keeps its own lease alive instead of waiting for it to lapse', () => {
    const d = new Driver({ incarnation: 2 });
    // The first read was sent at the start, before the old run's calls (a resign) are known
    // to be over: it does not adopt (seed 1105). One sent a call deadline later does.
    d.answer('read', { op: 'read', ok: true, holder: { hostId: 1, epoch: 9, lease: 'OLD' }, hosts: [] });
    expect(d.engine.role).toBe('standby');
    d.tick(S.callDeadlineMs + S.pollIntervalMs + 10);
    d.answer('read', { op: 'read', ok: true, holder: { hostId: 1, epoch: 9, lease: 'OLD' }, hosts: [] });
    expect(d.call('keepalive').call).toEqual({ op: 'keepalive', lease: 'OLD' });
    expect(roleChanges(d.answer('keepalive', { op: 'keepalive', ok: true, ttlMs: 3_000 }))).toEqual(['standby->master']);
    expect(d.engine.epoch).toBe(9);
  });

  it('never uses a term whose epoch is below one it followed', () => {
    const d = new Driver();
    d.answer('read', { op: 'read', ok: true, holder: { hostId: 2, epoch: 50, lease: 'X' }, hosts: [] });
    d.dbRunsAsStandby();
    d.tick(S.pollIntervalMs + 10);
    d.answer('read', { op: 'read', ok: true, holder: null, hosts: [] });
    d.tick(S.pollIntervalMs + 10);
    const out = d.answer('campaign', { op: 'campaign', ok: true, won: true, epoch: 3, lease: 'L3', ttlMs: 3_000, previous: 2 });
    expect(d.engine.role).toBe('standby');
    expect(out.find((o) => o.kind === 'store' && o.call.op === 'resign')).toMatchObject({ call: { lease: 'L3' } });
  });
});

describe('store engine: evidence from reads', () => {
  it('a read sent after winning that shows another holder ends the term at once; an older read does not', () => {
    const d = new Driver();
    d.answer('read', { op: 'read', ok: true, holder: null, hosts: [] });
    d.dbRunsAsStandby();
    d.tick(S.pollIntervalMs + 10); // a campaign and a read go out together
    const staleRead = d.call('read');
    d.answer('campaign', { op: 'campaign', ok: true, won: true, epoch: 7, lease: 'L7', ttlMs: 3_000, previous: 0 });
    expect(d.engine.role).toBe('master');
    d.step({ kind: 'store-done', nowMs: d.now, requestId: staleRead.requestId, result: { op: 'read', ok: true, holder: null, hosts: [] } });
    expect(d.engine.role).toBe('master'); // sent before the win: no news
    d.tick(S.keepaliveIntervalMs + 10);
    const out = d.answer('read', { op: 'read', ok: true, holder: { hostId: 2, epoch: 8, lease: 'L8' }, hosts: [] });
    expect(roleChanges(out)).toEqual(['master->standby']);
  });
});
