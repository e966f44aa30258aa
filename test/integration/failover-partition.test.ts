// Network partition with the disk still shared: three hosts on their own loopback
// addresses (127.0.9.x), a real loop device as the voting disk, and an nftables table
// that drops network heartbeat 1 between the master and the two others. The design's
// rule: the largest fully connected group survives, so the two connected hosts elect a
// new master and the old master alone is evicted; exactly one master afterwards. When
// the partition heals, the old master rejoins as a standby.
// Runs the compiled daemon: `npm run build` first. Needs root (losetup, nft).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { agreedAmong, isStatus, startFailoverCluster, type FailoverFixture } from '../helpers/cluster-fixture.js';
import { createLoop } from '../helpers/loop.js';
import { droppedPackets, healAll, hostAddress, partition, testTables } from '../helpers/netns.js';

const ALL = [1, 2, 3];
let fx: FailoverFixture;

beforeAll(async () => {
  fx = await startFailoverCluster('partition', {
    addresses: ALL.map(hostAddress),
    prepare: (dir, f) => {
      const loop = createLoop(dir, 16 << 20, 512);
      f.defer(() => loop.detach());
      f.defer(() => healAll());
      return { votingDisks: [loop.device] };
    },
  });
}, 60_000);

afterAll(async () => {
  await fx?.cleanup();
  expect(testTables().filter((t) => t.startsWith(`ycs-test-${process.pid}-`))).toEqual([]);
}, 60_000);

function ports(): number[] {
  const config = JSON.parse(readFileSync(fx.cluster.host(1).configPath, 'utf8')) as { hosts: Array<{ port: number }> };
  return config.hosts.map((h) => h.port);
}

describe('network partition of the master, voting disk still shared', () => {
  it('the two connected hosts keep the cluster, the master alone is evicted; one master throughout', async () => {
    onTestFailed(() => console.log(`failover story:\n  ${fx.story(Date.now() - 60_000).join('\n  ')}`));
    const before = await fx.waitHealthy(40_000);
    const others = ALL.filter((id) => id !== before.master);
    let cut: ReturnType<typeof partition> | undefined;
    const masterCount = (s: Map<number, unknown>): number => [...s.values()].filter((st) => isStatus(st as never) && (st as { role: string }).role === 'master').length;
    try {
      const { value: newMaster } = await fx.measure('partition', () => {
        cut = partition([hostAddress(before.master)], others.map(hostAddress), ports());
      }, ALL, (s) => {
        expect(masterCount(s)).toBeLessThanOrEqual(1);
        const m = agreedAmong(s, others);
        const view = s.get(m ?? 0);
        return m !== undefined && isStatus(view) && view.members.join(',') === others.join(',') ? m : undefined;
      }, 20_000);
      expect(others).toContain(newMaster);
      expect(droppedPackets(cut!)).toBeGreaterThan(0);
      // Stable for two more seconds: the isolated old master does not act as master.
      for (let i = 0; i < 20; i++) {
        const s = await fx.statusesOf(ALL);
        expect(masterCount(s)).toBe(1);
        const old = s.get(before.master);
        if (isStatus(old)) expect(old.role).not.toBe('master');
        expect(agreedAmong(s, others)).toBe(newMaster);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(fx.logOf(before.master)).toMatch(new RegExp(`host ${before.master} changed role from master to (evicted|standby)`));
      cut!.heal();
      // Healed: the old master rejoins as a standby of the new one.
      const healthy = await fx.waitHealthy(30_000);
      expect(healthy.master).toBe(newMaster);
      expect(fx.dataViolations()).toEqual([]);
    } finally {
      cut?.heal();
    }
  }, 120_000);
});
