// etcd mode with I/O fencing: the master lease on a real 3-member etcd, the data disk a
// LUN of a real iSCSI target (tgtd on 127.0.0.1) fenced with SCSI-3 persistent
// reservations ('iscsi-pr'). The master's whole host is frozen with SIGSTOP: once etcd
// shows its lease gone, a standby wins the term, registers, reserves and preempts the
// old master's key, and only then promotes. After SIGCONT the old master acts on its own
// clock (its term ended), never as master, and it holds no key on the LUN.
// Runs the compiled daemon: `npm run build` first. Needs root and tgtd.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { callDaemon } from '../../src/control/client.js';
import { startEtcdCluster } from '../../src/demo/etcd.js';
import { agreedAmong, isStatus, startFailoverCluster, type FailoverFixture } from '../helpers/cluster-fixture.js';
import { registeredHosts, type FenceStatusJson } from '../helpers/fenced-cluster.js';
import { freezeTree, isStopped, signalAll } from '../helpers/processes.js';
import { startTgtd } from '../helpers/tgtd.js';

const ALL = [1, 2, 3];
let fx: FailoverFixture;

beforeAll(async () => {
  fx = await startFailoverCluster('etcd-fence', {
    fencing: 'iscsi-pr',
    prepare: async (dir, f) => {
      const etcd = await startEtcdCluster(dir, { heartbeatMs: 100, electionMs: 1_000 });
      f.defer(() => etcd.stop());
      const data = await startTgtd({ dir, sizeBytes: 8 << 20, targetIqn: 'iqn.2026-12.io.ycs.test:etcd-data' });
      f.defer(() => data.stop());
      return { etcd: { endpoints: etcd.endpoints(), prefix: '/ycs/fence' }, dataDisks: [data.url()] };
    },
  });
}, 60_000);

afterAll(async () => {
  await fx?.cleanup();
}, 60_000);

function fenceStatus(hostId: number): Promise<FenceStatusJson> {
  return callDaemon(fx.cluster.host(hostId).socketPath, 'fence-status', {}) as Promise<FenceStatusJson>;
}

describe('etcd mode with iSCSI persistent-reservation fencing', () => {
  it('a frozen master is fenced before the new master promotes; thawed, it never acts as master', async () => {
    onTestFailed(() => console.log(`failover story:\n  ${fx.story(Date.now() - 60_000).join('\n  ')}`));
    const before = await fx.waitHealthy(40_000);
    expect(registeredHosts(await fenceStatus(before.master))).toContain(before.master);
    const survivors = ALL.filter((id) => id !== before.master);
    let frozen: number[] = [];
    let newMaster = 0;
    try {
      const { ms, value } = await fx.measure('etcd-fenced-host-freeze', () => (frozen = freezeTree(fx.hostPids(before.master))), survivors, (s) => {
        const m = agreedAmong(s, survivors);
        return m !== undefined && m !== before.master ? m : undefined;
      }, 20_000);
      newMaster = value;
      expect(ms).toBeLessThan(5_000);
      expect(frozen.every(isStopped)).toBe(true);
      const log = fx.logOf(newMaster);
      const fencedAt = log.indexOf(`fenced host ${before.master} at the storage`);
      expect(fencedAt).toBeGreaterThan(0);
      expect(fencedAt).toBeLessThan(log.lastIndexOf('ycs run as primary successfully')); // fenced, then promoted
      const status = await fenceStatus(newMaster);
      expect(registeredHosts(status)).not.toContain(before.master);
      expect(status.devices[0]?.reservation?.hostId).toBe(newMaster);
    } finally {
      signalAll(frozen, 'SIGCONT');
    }
    const thawedAtWall = Date.now();
    for (let i = 0; i < 20; i++) {
      const s = await fx.statusesOf(ALL);
      expect([...s.values()].filter((st) => isStatus(st) && st.role === 'master').length).toBeLessThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = await fx.waitHealthy(30_000);
    expect(after.master).toBe(newMaster);
    expect(fx.logSince(before.master, thawedAtWall)).not.toContain('ycs run as primary successfully');
    expect(fx.dataViolations()).toEqual([]);
  }, 120_000);
});
