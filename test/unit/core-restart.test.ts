// A ycs restart (ycsm restarts a crashed ycs with a new incarnation) while the host's
// database keeps running: no vote, no "abnormal found", the database is adopted.
import { describe, expect, it } from 'vitest';
import { LOG_ABNORMAL, LOG_PRIMARY } from '../../src/core/engine.js';
import type { HostId } from '../../src/core/types.js';
import { Harness } from './core-harness.js';

function bootstrapped(): Harness {
  const hx = new Harness({ hosts: [1, 2, 3], diskCount: 3 });
  hx.run(6000);
  expect(hx.masters()).toEqual([1]);
  return hx;
}

function outputsAfter(hx: Harness, afterMs: number, kind: string, host?: HostId): unknown[] {
  return hx.outputs.filter((o) => o.at >= afterMs && o.output.kind === kind && (host === undefined || o.host === host)).map((o) => o.output);
}

/** Runs until `untilMs` while host h's database sends heartbeat 2 every 200 ms, from `fromMs` on. */
function runWithDatabase(hx: Harness, h: HostId, fromMs: number, untilMs: number): void {
  hx.run(fromMs);
  hx.inject(h, (nowMs) => ({ kind: 'resource-event', nowMs, resource: 0, event: 'connected' }));
  for (let t = fromMs + 200; t <= untilMs; t += 200) {
    hx.run(t);
    hx.inject(h, (nowMs) => ({ kind: 'resource-event', nowMs, resource: 0, event: 'heartbeat' }));
  }
}

function proposals(hx: Harness, afterMs: number): unknown[] {
  return hx.outputs.filter((o) => o.at >= afterMs && o.output.kind === 'log' && o.output.msg === 'proposing a decision');
}

describe('engine: a restarted ycs', () => {
  it('a master restarted with a new incarnation resumes its epoch without a vote and adopts its running database', () => {
    const hx = bootstrapped();
    const epoch = hx.engine(2).view().epoch;
    const killedAt = hx.now;
    hx.crash(1);
    hx.run(killedAt + 900); // ycsm's backoff and node's start-up
    hx.startHost(1);
    const restartedAt = hx.now;
    // The database reconnects over heartbeat 2 (its client backs off up to 1.6 s).
    runWithDatabase(hx, 1, restartedAt + 1500, restartedAt + 8000);

    expect(hx.masters()).toEqual([1]);
    for (const h of [1, 2, 3]) {
      expect(hx.engine(h).view()).toMatchObject({ epoch, masterId: 1, members: [1, 2, 3] });
      expect(hx.logs(h, LOG_ABNORMAL).filter((l) => l.at >= killedAt)).toEqual([]);
    }
    expect(proposals(hx, killedAt)).toEqual([]);
    expect(hx.logs(1, LOG_PRIMARY).filter((l) => l.at >= restartedAt)).toHaveLength(1);
    // Master again well within the keep-alive of its start, at the same epoch.
    const back = outputsAfter(hx, restartedAt, 'role-change', 1)[0] as { to: string; epoch: number } | undefined;
    expect(back).toMatchObject({ to: 'master', epoch });
    const backAt = hx.outputs.find((o) => o.at >= restartedAt && o.host === 1 && o.output.kind === 'role-change')?.at ?? Infinity;
    expect(backAt - restartedAt).toBeLessThan(hx.timeouts.diskHbKeepAliveMs);
    // The running database is confirmed as primary, never stopped or restarted.
    const actions = outputsAfter(hx, restartedAt, 'resource', 1).map((o) => (o as { action: string }).action);
    expect(actions).toEqual(['promote']);
    expect(hx.engine(1).view().hosts[0]?.resources).toEqual(['primary']);
  });

  it('a standby restarted with a new incarnation rejoins as standby and keeps its database', () => {
    const hx = bootstrapped();
    const epoch = hx.engine(1).view().epoch;
    const killedAt = hx.now;
    hx.crash(2);
    hx.run(killedAt + 900);
    hx.startHost(2);
    const restartedAt = hx.now;
    runWithDatabase(hx, 2, restartedAt + 100, restartedAt + 8000);
    expect(hx.masters()).toEqual([1]);
    expect(hx.engine(2).view()).toMatchObject({ role: 'standby', epoch, masterId: 1, members: [1, 2, 3] });
    for (const h of [1, 2, 3]) expect(hx.logs(h, LOG_ABNORMAL).filter((l) => l.at >= killedAt)).toEqual([]);
    expect(proposals(hx, killedAt)).toEqual([]);
    const actions = outputsAfter(hx, restartedAt, 'resource', 2).map((o) => (o as { action: string }).action);
    expect(actions).toEqual(['demote']);
  });

  it('a restarted master whose database does not come back restarts it after the reconnect wait', () => {
    const hx = bootstrapped();
    const killedAt = hx.now;
    hx.crash(1);
    hx.run(killedAt + 900);
    hx.startHost(1);
    const restartedAt = hx.now;
    hx.run(restartedAt + 8000);
    expect(hx.masters()).toEqual([1]);
    const first = hx.outputs.find((o) => o.at >= restartedAt && o.host === 1 && o.output.kind === 'resource');
    expect(first?.output).toMatchObject({ action: 'stop' });
    expect((first?.at ?? 0) - restartedAt).toBeGreaterThanOrEqual(2 * hx.timeouts.networkHbTimeoutMs);
    expect(hx.engine(1).view().hosts[0]?.resources).toEqual(['primary']);
  });

  it('a master restarted after the keep-alive is replaced (the grace does not hide a dead master)', () => {
    const hx = bootstrapped();
    const killedAt = hx.now;
    hx.crash(1);
    hx.run(killedAt + 6000);
    expect(hx.masters()).not.toContain(1);
    expect(hx.masters()).toHaveLength(1);
    expect(hx.logs(2, LOG_ABNORMAL).filter((l) => l.at >= killedAt).length).toBeGreaterThan(0);
  });
});

describe('engine: admission of a host fenced at the storage', () => {
  it('is admitted once: not evicted again while its re-registration and first write land', () => {
    const hx = new Harness({ hosts: [1, 2, 3], diskCount: 3, fencing: 'pr' });
    hx.run(6000);
    expect(hx.masters()).toEqual([1]);
    hx.cut(1, 3);
    hx.cut(2, 3);
    hx.run(hx.now + 8000);
    expect(hx.engine(1).view().members).toEqual([1, 2]);
    expect(hx.fenced.has(3)).toBe(true);
    const healedAt = hx.now;
    hx.healNet();
    hx.run(healedAt + 10_000);
    const decisions = hx.logs(1, 'decision adopted').filter((l) => l.at >= healedAt);
    expect(decisions.map((l) => (l.output.kind === 'log' ? l.output.fields?.members : undefined))).toEqual([[1, 2, 3]]);
    expect(hx.engine(3).view()).toMatchObject({ role: 'standby', masterId: 1, members: [1, 2, 3] });
  });
});
