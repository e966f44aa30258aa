// False death with I/O fencing: the master's whole host (ycsm, ycs, database) is frozen
// with SIGSTOP for longer than every timeout. The voting disk and a data disk are iSCSI
// LUNs from two real tgtd targets on 127.0.0.1 (libiscsi in the addon), fencing is
// 'iscsi-pr' (SCSI-3 persistent reservations). The survivors must evict and fence it and
// elect a new master; after SIGCONT it must not write as master (the target refuses its
// heartbeat writes, its database's lease has run out) and it rejoins as a standby.
// Runs the compiled daemon: `npm run build` first. Needs root and tgtd.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { initVotingDisk } from '../../src/disk/voting-disk.js';
import { agreedAmong, isStatus, startFailoverCluster, type FailoverFixture } from '../helpers/cluster-fixture.js';
import { freezeTree, isStopped, signalAll } from '../helpers/processes.js';
import { startTgtd } from '../helpers/tgtd.js';

const ALL = [1, 2, 3];
/** Longer than DISK_HB_KEEP_ALIVE, NETWORK_HB_TIMEOUT, ycsm's keep-alive (2000) and the promotion wait (1786). */
const FREEZE_MS = 6_000;
let fx: FailoverFixture;

beforeAll(async () => {
  fx = await startFailoverCluster('fence', {
    fencing: 'iscsi-pr',
    initDisks: false,
    prepare: async (dir, f) => {
      const voting = await startTgtd({ dir, sizeBytes: 16 << 20, targetIqn: 'iqn.2026-11.io.ycs.test:voting' });
      f.defer(() => voting.stop());
      const data = await startTgtd({ dir, sizeBytes: 8 << 20, targetIqn: 'iqn.2026-11.io.ycs.test:data' });
      f.defer(() => data.stop());
      await initVotingDisk(voting.url(), { clusterName: 'demo', hostSlots: 16, force: true, iscsiInitiatorIqn: 'iqn.2026-11.io.ycs.test:init' });
      return { votingDisks: [voting.url()], dataDisks: [data.url()] };
    },
  });
}, 60_000);

afterAll(async () => {
  await fx?.cleanup();
}, 60_000);

describe('SIGSTOP of the master host with iSCSI persistent-reservation fencing', () => {
  it('is evicted and fenced, does not write as master after SIGCONT, and rejoins as a standby', async () => {
    onTestFailed(() => console.log(`failover story:\n  ${fx.story(Date.now() - 60_000).join('\n  ')}`));
    const before = await fx.waitHealthy(40_000);
    const survivors = ALL.filter((id) => id !== before.master);
    const pids = fx.hostPids(before.master);
    expect(pids.length).toBeGreaterThanOrEqual(3); // ycsm, ycs, database
    let frozen: number[] = [];
    let linesAtFreeze = 0;
    let frozenAt = 0;
    try {
      const { value: newMaster } = await fx.measure('host-freeze', () => {
        frozen = freezeTree(pids);
        frozenAt = performance.now();
        linesAtFreeze = fx.dataLines().length;
      }, survivors, (s) => {
        const m = agreedAmong(s, survivors);
        const view = s.get(m ?? 0);
        return m !== undefined && isStatus(view) && !view.members.includes(before.master) ? m : undefined;
      }, 20_000);
      expect(survivors).toContain(newMaster);
      expect(frozen.every(isStopped)).toBe(true);
      const masterLog = fx.logOf(newMaster);
      expect(masterLog).toContain(`fenced host ${before.master} at the storage`);
      await new Promise((r) => setTimeout(r, Math.max(0, FREEZE_MS - (performance.now() - frozenAt))));
    } finally {
      signalAll(frozen, 'SIGCONT');
    }
    const thawedAtWall = Date.now();
    // It comes back as a standby of the new master; exactly one master throughout.
    const after = await fx.waitFor(ALL, (s) => {
      const masters = [...s.values()].filter((st) => isStatus(st) && st.role === 'master');
      expect(masters.length).toBeLessThanOrEqual(1);
      const old = s.get(before.master);
      const m = agreedAmong(s, ALL);
      return isStatus(old) && old.role === 'standby' && m !== undefined && m !== before.master && old.members.includes(before.master) ? m : undefined;
    }, 30_000, `host ${before.master} back as a standby`);
    await fx.waitHealthy(30_000);
    expect(survivors).toContain(after);
    const oldText = fx.logSince(before.master, thawedAtWall - 1000);
    // The target refused its heartbeat writes (the disk shell logs the engine's error name).
    expect(oldText).toMatch(/"error":"reservation-conflict"/);
    expect(oldText).toMatch(/changed role from master to evicted/);
    expect(oldText).toContain('try join primary');
    expect(oldText).not.toContain('ycs run as primary successfully');
    // Its database wrote nothing after the freeze; no epoch went back, no epoch had two writers.
    expect(fx.dataLines().slice(linesAtFreeze).filter((l) => l.host === before.master)).toEqual([]);
    expect(fx.dataViolations()).toEqual([]);
  }, 120_000);
});
