import { describe, expect, it } from 'vitest';
import { LOG_ABNORMAL, LOG_JOIN, LOG_PRIMARY, createEngine } from '../../src/core/engine.js';
import type { Input, Output } from '../../src/core/types.js';
import { ScriptedWorld, type ScriptSetup } from '../sim/scripted.js';

// Scripted runs of the simulator (test/sim/scripted.ts): three hosts, three voting disks,
// the real engine, simulated databases and fencing, and every checker on.
function bootstrapped(opts: Partial<ScriptSetup> = {}): ScriptedWorld {
  const hx = new ScriptedWorld({ hosts: 3, disks: 3, ...opts });
  hx.run(5000);
  expect(hx.masters()).toEqual([1]);
  return hx;
}

/** Every checker of the simulator held throughout. */
function held(hx: ScriptedWorld): void {
  expect(hx.violations).toEqual([]);
}

function roleChanges(hx: ScriptedWorld, h: number, afterMs: number): string[] {
  return hx.outputs
    .filter((o) => o.host === h && o.at >= afterMs && o.output.kind === 'role-change')
    .map((o) => (o.output.kind === 'role-change' ? `${o.output.from}->${o.output.to}` : ''));
}

function firstAt(hx: ScriptedWorld, h: number, msg: string, afterMs = 0): number | undefined {
  return hx.logs(h, msg).find((l) => l.at >= afterMs)?.at;
}

describe('engine: start-up', () => {
  it('elects one master, logs the seed lines, and sets resources by role', () => {
    const hx = bootstrapped();
    expect(hx.logs(1, LOG_PRIMARY)).toHaveLength(1);
    expect(hx.logs(2, LOG_JOIN)).toHaveLength(1);
    expect(hx.logs(3, LOG_JOIN)).toHaveLength(1);
    for (const h of [1, 2, 3]) expect(hx.logs(h, LOG_ABNORMAL)).toHaveLength(0);
    const view = hx.engine(2).view();
    expect(view).toMatchObject({ selfId: 2, role: 'standby', epoch: 1, masterId: 1, members: [1, 2, 3] });
    expect(view.hosts.map((h) => h.resources[0])).toEqual(['primary', 'standby', 'standby']);
    held(hx);
  });

  it('is deterministic: the same inputs give the same outputs', () => {
    const run = (): Output[][] => {
      const e = createEngine({ hostId: 1, hostIds: [1, 2], diskCount: 1, resources: ['db'], incarnation: 1 });
      const inputs: Input[] = [
        { kind: 'start', nowMs: 0 },
        { kind: 'tick', nowMs: 50 },
        { kind: 'disk-read-done', nowMs: 60, requestId: 2, disk: 0, heartbeats: [], votes: [] },
        { kind: 'tick', nowMs: 300 },
      ];
      return inputs.map((i) => e.step(i));
    };
    expect(run()).toEqual(run());
  });

  it('refuses inputs before start and time going back', () => {
    const e = createEngine({ hostId: 1, hostIds: [1], diskCount: 1, resources: [], incarnation: 1 });
    expect(() => e.step({ kind: 'tick', nowMs: 1 })).toThrow(/before 'start'/);
    e.step({ kind: 'start', nowMs: 100 });
    expect(() => e.step({ kind: 'tick', nowMs: 99 })).toThrow(/time went back/);
  });
});

describe('engine: failures', () => {
  it('master crash: survivors log abnormal, a standby becomes master within 5 s', () => {
    const hx = bootstrapped();
    const crashAt = hx.now;
    hx.crash(1);
    hx.run(crashAt + 8000);
    expect(hx.masters()).toEqual([2]);
    const promotedAt = firstAt(hx, 2, LOG_PRIMARY, crashAt);
    expect(promotedAt).toBeDefined();
    expect((promotedAt ?? Infinity) - crashAt).toBeLessThanOrEqual(5000);
    expect(firstAt(hx, 2, LOG_ABNORMAL, crashAt)).toBeLessThan(promotedAt ?? 0);
    expect(firstAt(hx, 3, LOG_ABNORMAL, crashAt)).toBeDefined();
    expect(firstAt(hx, 3, LOG_JOIN, crashAt)).toBeGreaterThan(crashAt);
    expect(hx.engine(3).view()).toMatchObject({ epoch: 2, masterId: 2, members: [2, 3] });
    held(hx);
  });

  it('standby crash: the master evicts it without a vote, nobody logs abnormal', () => {
    const hx = bootstrapped();
    const crashAt = hx.now;
    hx.crash(3);
    hx.run(crashAt + 6000);
    expect(hx.engine(1).view()).toMatchObject({ role: 'master', epoch: 2, masterId: 1, members: [1, 2] });
    expect(hx.logs(1, LOG_ABNORMAL).concat(hx.logs(2, LOG_ABNORMAL))).toHaveLength(0);
    expect(firstAt(hx, 2, LOG_JOIN, crashAt)).toBeUndefined(); // same master: no new "try join"
    // it restarts and is admitted again as a standby
    hx.restart(3);
    hx.run(hx.now + 6000);
    expect(hx.engine(3).role).toBe('standby');
    expect(hx.engine(1).view().members).toEqual([1, 2, 3]);
    expect(hx.logs(3, LOG_JOIN).length).toBeGreaterThanOrEqual(2);
    held(hx);
  });

  it('master that cannot reach the disks stops acting before anyone promotes', () => {
    const hx = bootstrapped();
    const downAt = hx.now;
    hx.diskStall(1, 60_000); // every I/O of host 1 hangs: a dead SAN path
    hx.run(downAt + 8000);
    const stoppedAt = hx.outputs.find((o) => o.host === 1 && o.at >= downAt && o.output.kind === 'role-change')?.at;
    const promotedAt = firstAt(hx, 2, LOG_PRIMARY, downAt);
    expect(stoppedAt).toBeDefined();
    expect(promotedAt).toBeDefined();
    expect(stoppedAt ?? Infinity).toBeLessThanOrEqual(downAt + hx.timeouts.leaseMs + 110); // + one tick
    expect(stoppedAt ?? Infinity).toBeLessThan(promotedAt ?? 0);
    expect(roleChanges(hx, 1, downAt)[0]).toBe('master->evicted');
    expect(hx.outputs.some((o) => o.host === 1 && o.at >= downAt && o.output.kind === 'resource' && o.output.action === 'stop')).toBe(true);
    held(hx);
  });

  it('a master stalled for 1 s is not evicted and keeps its role', () => {
    const hx = bootstrapped();
    const at = hx.now;
    hx.stall(1, 1000);
    hx.run(at + 6000);
    expect(hx.masters()).toEqual([1]);
    expect(hx.engine(2).view().epoch).toBe(1);
    expect(roleChanges(hx, 1, at)).toEqual([]);
    held(hx);
  });

  it('a master frozen past every timeout wakes, stops first, and rejoins as a standby', () => {
    const hx = bootstrapped();
    const at = hx.now;
    hx.pause(1, 8000); // the whole host frozen (SIGSTOP): ycs and its database
    hx.run(at + 7990);
    expect(hx.engine(2).role).toBe('master');
    hx.run(at + 8000);
    // its very first step after waking demotes it: no master output in between
    const wake = hx.outputs.filter((o) => o.host === 1 && o.at >= at + 8000);
    const firstRole = wake.find((o) => o.output.kind === 'role-change');
    expect(firstRole?.output).toMatchObject({ from: 'master', to: 'evicted' });
    expect(wake.findIndex((o) => o.output.kind === 'role-change')).toBeLessThan(
      Math.max(0, wake.findIndex((o) => o.output.kind === 'resource')),
    );
    hx.run(at + 16000);
    expect(hx.masters()).toEqual([2]);
    expect(hx.engine(1).role).toBe('standby');
    expect(hx.logs(1, LOG_JOIN).length).toBeGreaterThanOrEqual(1);
  });

  it('with PR fencing the new master fences the old one and promotes without the full wait', () => {
    const hx = bootstrapped({ fencing: 'pr' });
    const crashAt = hx.now;
    hx.crash(1);
    hx.run(crashAt + 8000);
    const fence = hx.outputs.find((o) => o.host === 2 && o.at >= crashAt && o.output.kind === 'fence');
    expect(fence?.output).toMatchObject({ kind: 'fence', victim: 1, epoch: 2 });
    const promotedAt = firstAt(hx, 2, LOG_PRIMARY, crashAt) ?? Infinity;
    expect(promotedAt).toBeGreaterThan(fence?.at ?? Infinity);
    expect(promotedAt - (fence?.at ?? 0)).toBeLessThan(hx.timeouts.selfFenceWaitMs);
    // the fenced host restarts, is admitted over the network and re-registers its key
    hx.restart(1);
    hx.run(hx.now + 8000);
    expect(hx.engine(1).role).toBe('standby');
    expect(hx.outputs.some((o) => o.host === 1 && o.output.kind === 'register')).toBe(true);
    expect(hx.fencedFromData(1)).toBe(false);
    held(hx);
  });
});

describe('engine: partitions and resources', () => {
  it('a host cut off from the network is evicted; the master stays', () => {
    const hx = bootstrapped();
    const at = hx.now;
    hx.partition([[3], [1, 2]]);
    hx.run(at + 8000);
    expect(hx.masters()).toEqual([1]);
    expect(hx.engine(1).view().members).toEqual([1, 2]);
    expect(hx.engine(3).role).not.toBe('standby');
    expect(hx.engine(3).role).not.toBe('master');
    hx.healNet();
    hx.run(hx.now + 8000);
    expect(hx.engine(1).view().members).toEqual([1, 2, 3]);
    expect(hx.engine(3).role).toBe('standby');
    held(hx);
  });

  it('a master cut off from both standbys loses to the larger group', () => {
    const hx = bootstrapped();
    const at = hx.now;
    hx.partition([[1], [2, 3]]);
    hx.run(at + 10000);
    expect(hx.masters()).toEqual([2]);
    expect(hx.engine(2).view().members).toEqual([2, 3]);
    expect(hx.logs(2, LOG_ABNORMAL).length).toBe(1);
    held(hx);
  });

  it('a crashed database on the master releases the role; a standby takes over without timeouts', () => {
    const hx = bootstrapped();
    const at = hx.now;
    hx.dbCrash(1); // the database process dies: ycs sees its heartbeat-2 socket close
    hx.run(at + 3000);
    expect(hx.masters()).toEqual([2]);
    const promotedAt = firstAt(hx, 2, LOG_PRIMARY, at) ?? Infinity;
    expect(promotedAt - at).toBeLessThan(hx.timeouts.diskHbKeepAliveMs);
    expect(roleChanges(hx, 1, at)[0]).toBe('master->standby');
    // the failed database is restarted as a standby on host 1
    const actions = hx.outputs.filter((o) => o.host === 1 && o.at >= at && o.output.kind === 'resource').map((o) => (o.output.kind === 'resource' ? o.output.action : ''));
    expect(actions.slice(0, 2)).toEqual(['stop', 'start']);
    expect(hx.engine(1).view().hosts[0]?.resources).toEqual(['standby']);
    held(hx);
  });

  it('a standby database that goes silent is restarted, no role change', () => {
    const hx = bootstrapped();
    const at = hx.now;
    hx.dbHang(2); // the database hangs: no crash report, its heartbeat 2 just stops
    hx.run(at + hx.timeouts.networkHbTimeoutMs + 500);
    const actions = hx.outputs.filter((o) => o.host === 2 && o.at >= at && o.output.kind === 'resource').map((o) => (o.output.kind === 'resource' ? o.output.action : ''));
    expect(actions).toEqual(['stop', 'start']);
    expect(roleChanges(hx, 2, at)).toEqual([]);
    expect(hx.masters()).toEqual([1]);
    held(hx);
  });

  it('shutdown stops the resources, then asks to exit', () => {
    const hx = bootstrapped();
    const at = hx.now;
    hx.inject(2, (nowMs) => ({ kind: 'shutdown', nowMs }));
    hx.run(at + 500);
    const outs = hx.outputs.filter((o) => o.host === 2 && o.at >= at && (o.output.kind === 'exit' || o.output.kind === 'resource'));
    expect(outs.map((o) => o.output.kind)).toEqual(['resource', 'exit']);
    expect(roleChanges(hx, 2, at)).toEqual(['standby->leaving']);
    expect(hx.w.host(2).alive).toBe(false); // the daemon exited after its database stopped
    expect(hx.masters()).toEqual([1]);
    held(hx);
  });
});
