// etcd mode on real processes (the second seed's scenarios): three hosts on 127.0.0.1,
// each its own ycsm -> ycs -> demo database, the master lease on a real 3-member etcd
// cluster (Debian's etcd-server at its default Raft timing, 100 ms heartbeat and 1 s
// election), no voting disk. Each etcd member listens on one extra client port per ycs
// host, so nftables can cut one host off from etcd while it still reaches its peers.
// Every test starts from a healthy cluster, prints its measured time and checks the
// shared data file for split-brain evidence (an older epoch after a newer one, two
// writers in one epoch).
// Runs the compiled daemon: `npm run build` first. Needs root (nft).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { agreedMaster } from '../../src/demo/cluster.js';
import { agreedAmong, isStatus, startFailoverCluster, type FailoverFixture, type Healthy, type Statuses } from '../helpers/cluster-fixture.js';
import { startEtcdCluster, type EtcdCluster } from '../../src/demo/etcd.js';
import { cutPorts, droppedPackets, healAll } from '../helpers/netns.js';
import { signalAll } from '../helpers/processes.js';

const ALL = [1, 2, 3];
const TTL_MS = 3_000; // the default
let fx: FailoverFixture;
let etcd: EtcdCluster;

/** Host h's etcd endpoints: its own extra client port on every member. */
function endpointsOf(h: number): string[] {
  return etcd.members.map((m) => m.extraClientUrls[h - 1] ?? m.clientUrl);
}

function portsOf(h: number): number[] {
  return endpointsOf(h).map((u) => Number(new URL(u).port));
}

beforeAll(async () => {
  fx = await startFailoverCluster('etcd', {
    prepare: async (dir, f) => {
      etcd = await startEtcdCluster(dir, { extraClientUrls: 3, heartbeatMs: 100, electionMs: 1_000 });
      f.defer(() => etcd.stop());
      f.defer(() => healAll());
      // Each host talks to etcd through its own ports.
      return { etcd: { endpoints: endpointsOf, prefix: '/ycs/failover' } };
    },
  });
}, 90_000);

afterAll(async () => {
  await fx?.cleanup();
}, 60_000);

function printStoryOnFailure(sinceMs: number): void {
  onTestFailed(() => console.log(`failover story:\n  ${fx.story(sinceMs).join('\n  ')}`));
}

async function healthy(): Promise<Healthy> {
  const state = await fx.waitHealthy(40_000);
  expect(fx.dataViolations()).toEqual([]);
  return state;
}

function masters(s: Statuses): number[] {
  return [...s].filter(([, st]) => isStatus(st) && st.role === 'master').map(([id]) => id);
}

/** The host whose ycs says master, polled until the others agree on a new one. */
function newMasterAmong(old: number, observers: number[]): (s: Statuses) => number | undefined {
  return (s) => {
    expect(masters(s).length).toBeLessThanOrEqual(1);
    const m = agreedAmong(s, observers);
    return m !== undefined && m !== old ? m : undefined;
  };
}

describe('etcd mode on real processes', () => {
  it('kill -9 of the master database: the lease is given up at once, a standby is master within 1 s', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const pid = fx.cluster.dbPid(before.master)!;
    const { ms, value } = await fx.measure('etcd-db-kill', () => process.kill(pid, 'SIGKILL'), ALL, newMasterAmong(before.master, ALL), 15_000);
    expect(value).not.toBe(before.master);
    expect(ms).toBeLessThan(1_000);
    const after = await healthy();
    expect(after.epoch).toBeGreaterThan(before.epoch);
  }, 60_000);

  it('kill -9 of a standby database: restarted in place, no role change', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const standby = ALL.find((id) => id !== before.master)!;
    const pid = fx.cluster.dbPid(standby)!;
    const seen = new Set<number>();
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    await fx.waitFor(ALL, (s) => {
      for (const m of masters(s)) seen.add(m);
      const next = fx.cluster.dbPid(standby);
      return next !== undefined && next !== pid && agreedMaster(s) === before.master;
    }, 20_000, 'the standby database restarted');
    const after = await healthy();
    console.log(`failover[etcd-standby-db-kill]: none (master ${before.master} kept; database restarted in ${Math.round(performance.now() - t0)} ms)`);
    expect([...seen]).toEqual([before.master]);
    expect(after).toEqual(before);
  }, 60_000);

  it('kill -9 of the master ycs only: ycsm restarts it, it keeps its lease alive, no failover', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const ycs = fx.ycsPid(before.master)!;
    const seen = new Set<number>();
    const t0 = performance.now();
    process.kill(ycs, 'SIGKILL');
    await fx.waitFor(ALL, (s) => {
      for (const m of masters(s)) seen.add(m);
      const next = fx.ycsPid(before.master);
      const st = s.get(before.master);
      return next !== undefined && next !== ycs && isStatus(st) && st.role === 'master';
    }, 20_000, 'the master ycs back as master');
    console.log(`failover[etcd-ycs-kill]: none (master ${before.master} answering as master again after ${Math.round(performance.now() - t0)} ms)`);
    const after = await healthy();
    expect(after).toEqual(before); // same master, same epoch
    expect([...seen]).toEqual([before.master]);
  }, 60_000);

  it('kill -9 of the whole master host (ycsm, ycs, database): a standby is master after the lease, within 5 s', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const others = ALL.filter((id) => id !== before.master);
    const pids = fx.hostPids(before.master);
    const { ms } = await fx.measure('etcd-host-kill', () => signalAll(pids, 'SIGKILL'), others, newMasterAmong(before.master, others), 20_000);
    expect(ms).toBeLessThan(5_000);
    expect(ms).toBeGreaterThan(TTL_MS * 0.5); // it waited for the lease: nothing gave it up
    fx.cluster.startHost(before.master);
    await healthy();
  }, 90_000);

  it('SIGSTOP of the whole master host: a standby takes over; the thawed host never acts as master again in the old term', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const others = ALL.filter((id) => id !== before.master);
    const pids = fx.hostPids(before.master);
    try {
      const { ms } = await fx.measure('etcd-host-freeze', () => signalAll(pids, 'SIGSTOP'), others, newMasterAmong(before.master, others), 20_000);
      expect(ms).toBeLessThan(5_000);
    } finally {
      signalAll(pids, 'SIGCONT');
    }
    for (let i = 0; i < 20; i++) {
      expect(masters(await fx.statusesOf(ALL)).length).toBeLessThanOrEqual(1);
      await sleep(100);
    }
    const after = await healthy();
    expect(after.master).not.toBe(before.master);
  }, 90_000);

  it('the master cut off from etcd (it still reaches its peers): it demotes itself, a standby takes over', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const others = ALL.filter((id) => id !== before.master);
    let cut: ReturnType<typeof cutPorts> | undefined;
    try {
      const { ms } = await fx.measure('etcd-master-cut', () => (cut = cutPorts('tcp', portsOf(before.master))), ALL, (s) => {
        expect(masters(s).length).toBeLessThanOrEqual(1);
        const m = agreedAmong(s, others);
        const old = s.get(before.master);
        return m !== undefined && m !== before.master && isStatus(old) && old.role !== 'master' ? m : undefined;
      }, 20_000);
      expect(ms).toBeLessThan(6_000);
      expect(droppedPackets(cut!)).toBeGreaterThan(0);
      expect(fx.logSince(before.master, Date.now() - ms - 1_000)).toContain('etcd mode: could not renew the lease in time');
    } finally {
      cut?.heal();
    }
    await healthy();
  }, 90_000);

  it('an etcd member killed and restarted, and 50 etcd leader changes: no role change at all', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const sinceWallMs = Date.now();
    const seen = new Set<string>();
    const watch = async (): Promise<void> => {
      const s = await fx.statusesOf(ALL);
      for (const [id, st] of s) if (isStatus(st)) seen.add(`${id}:${st.role}@${st.epoch}`);
    };
    const victim = (await etcd.leader()).name;
    await etcd.kill(victim);
    for (let i = 0; i < 10; i++) {
      await watch();
      await sleep(200);
    }
    await etcd.start(victim);
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) {
      await etcd.moveLeader();
      await watch();
    }
    console.log(`failover[etcd-leader-changes]: none (50 leader changes in ${Math.round(performance.now() - t0)} ms, one member killed and restarted)`);
    const after = await healthy();
    expect(after).toEqual(before);
    const expected = ALL.map((id) => `${id}:${id === before.master ? 'master' : 'standby'}@${before.epoch}`);
    expect([...seen].sort(), JSON.stringify([...seen])).toEqual(expected.sort());
    for (const id of ALL) expect(fx.logSince(id, sinceWallMs)).not.toContain('"role-change"');
  }, 120_000);

  it('etcd unreachable for every host: no master once the leases could have expired; one master when it returns', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const cut = cutPorts('tcp', ALL.flatMap(portsOf));
    const t0 = performance.now();
    try {
      await fx.waitFor(ALL, (s) => masters(s).length === 0, TTL_MS + 2_000, 'the master demoting itself');
      const demotedMs = Math.round(performance.now() - t0);
      console.log(`failover[etcd-unreachable]: master ${before.master} demoted ${demotedMs} ms after etcd became unreachable`);
      expect(demotedMs).toBeLessThan(TTL_MS);
      for (let i = 0; i < 10; i++) {
        expect(masters(await fx.statusesOf(ALL))).toEqual([]);
        await sleep(200);
      }
    } finally {
      cut.heal();
    }
    const { ms } = await fx.measure('etcd-returns', () => undefined, ALL, (s) => {
      expect(masters(s).length).toBeLessThanOrEqual(1);
      return agreedMaster(s);
    }, 20_000);
    expect(ms).toBeLessThan(10_000);
    await healthy();
  }, 90_000);

  it('the master and one standby crash: the remaining standby is promoted', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const [standby, survivor] = ALL.filter((id) => id !== before.master) as [number, number];
    const pids = [...fx.hostPids(before.master), ...fx.hostPids(standby)];
    const { ms } = await fx.measure('etcd-two-host-kill', () => signalAll(pids, 'SIGKILL'), [survivor], (s) => {
      const st = s.get(survivor);
      return isStatus(st) && st.role === 'master' ? survivor : undefined;
    }, 20_000);
    expect(ms).toBeLessThan(5_000);
    fx.cluster.startHost(before.master);
    fx.cluster.startHost(standby);
    const after = await healthy();
    expect(after.master).toBe(survivor);
  }, 90_000);
});
