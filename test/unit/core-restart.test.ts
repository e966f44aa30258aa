// A ycs restart (ycsm restarts a crashed ycs with a new incarnation) while the host's
// database keeps running: no vote, no "abnormal found", the database is adopted.
import { describe, expect, it } from 'vitest';
import { LOG_ABNORMAL, LOG_PRIMARY } from '../../src/core/engine.js';
import type { HostId } from '../../src/core/types.js';
import { ScriptedWorld } from '../sim/scripted.js';

// Scripted simulator runs (test/sim/scripted.ts). A `ycs-crash` kills ycs alone: its
// databases keep running and reconnect over heartbeat 2 once ycs is back (the client's
// backoff is at most 8 heartbeat intervals), as after a kill -9 that ycsm repairs.
function bootstrapped(): ScriptedWorld {
  const hx = new ScriptedWorld({ hosts: 3, disks: 3 });
  hx.run(6000);
  expect(hx.masters()).toEqual([1]);
  return hx;
}

function outputsAfter(hx: ScriptedWorld, afterMs: number, kind: string, host?: HostId): unknown[] {
  return hx.outputs.filter((o) => o.at >= afterMs && o.output.kind === kind && (host === undefined || o.host === host)).map((o) => o.output);
}

/** kill -9 of host h's ycs; ycsm starts it again 900 ms later (its backoff and node's start-up). */
function restartYcs(hx: ScriptedWorld, h: HostId): { killedAt: number; restartedAt: number } {
  const killedAt = hx.now;
  hx.apply({ kind: 'ycs-crash', host: h, downMs: null });
  hx.run(killedAt + 900);
  hx.restart(h);
  return { killedAt, restartedAt: hx.now };
}

function proposals(hx: ScriptedWorld, afterMs: number): unknown[] {
  return hx.outputs.filter((o) => o.at >= afterMs && o.output.kind === 'log' && o.output.msg === 'proposing a decision');
}

describe('engine: a restarted ycs', () => {
  it('a master restarted with a new incarnation resumes its epoch without a vote and adopts its running database', () => {
    const hx = bootstrapped();
    const epoch = hx.engine(2).view().epoch;
    const { killedAt, restartedAt } = restartYcs(hx, 1);
    hx.run(restartedAt + 8000);

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
    expect(hx.violations).toEqual([]);
  });

  it('a standby restarted with a new incarnation rejoins as standby and keeps its database', () => {
    const hx = bootstrapped();
    const epoch = hx.engine(1).view().epoch;
    const { killedAt, restartedAt } = restartYcs(hx, 2);
    hx.run(restartedAt + 8000);
    expect(hx.masters()).toEqual([1]);
    expect(hx.engine(2).view()).toMatchObject({ role: 'standby', epoch, masterId: 1, members: [1, 2, 3] });
    for (const h of [1, 2, 3]) expect(hx.logs(h, LOG_ABNORMAL).filter((l) => l.at >= killedAt)).toEqual([]);
    expect(proposals(hx, killedAt)).toEqual([]);
    const actions = outputsAfter(hx, restartedAt, 'resource', 2).map((o) => (o as { action: string }).action);
    expect(actions).toEqual(['demote']);
    expect(hx.violations).toEqual([]);
  });

  it('a restarted master whose database does not come back restarts it after the reconnect wait', () => {
    const hx = bootstrapped();
    hx.apply({ kind: 'ycs-crash', host: 1, downMs: null });
    hx.dbCrash(1); // and its database dies too while ycs is down: nobody reconnects
    hx.run(hx.now + 900);
    hx.restart(1);
    const restartedAt = hx.now;
    hx.run(restartedAt + 8000);
    expect(hx.masters()).toEqual([1]);
    const first = hx.outputs.find((o) => o.at >= restartedAt && o.host === 1 && o.output.kind === 'resource');
    expect(first?.output).toMatchObject({ action: 'stop' });
    expect((first?.at ?? 0) - restartedAt).toBeGreaterThanOrEqual(2 * hx.timeouts.networkHbTimeoutMs);
    expect(hx.engine(1).view().hosts[0]?.resources).toEqual(['primary']);
    expect(hx.violations).toEqual([]);
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
    const hx = new ScriptedWorld({ hosts: 3, disks: 3, fencing: 'pr' });
    hx.run(6000);
    expect(hx.masters()).toEqual([1]);
    hx.partition([[3], [1, 2]]);
    hx.run(hx.now + 8000);
    expect(hx.engine(1).view().members).toEqual([1, 2]);
    expect(hx.fencedFromData(3)).toBe(true);
    const healedAt = hx.now;
    hx.healNet();
    hx.run(healedAt + 10_000);
    const decisions = hx.logs(1, 'decision adopted').filter((l) => l.at >= healedAt);
    expect(decisions.map((l) => (l.output.kind === 'log' ? l.output.fields?.members : undefined))).toEqual([[1, 2, 3]]);
    expect(hx.engine(3).view()).toMatchObject({ role: 'standby', masterId: 1, members: [1, 2, 3] });
    expect(hx.violations).toEqual([]);
  });
});
