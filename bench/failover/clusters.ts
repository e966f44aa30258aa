// The two clusters the failover benchmark runs its faults on, both through the failover
// tests' fixture (test/helpers/cluster-fixture.ts: three hosts of real ycsm -> ycs ->
// demo database processes, cleanup of every process, device and target it made):
//   'loop':   a loop device as the voting disk, fencing 'none' (failover-process)
//   'fenced': a tgtd iSCSI LUN as the voting disk and a second one as the data disk,
//             fencing 'iscsi-pr' (failover-fence)
// Both run the default timeouts, which the simulator's figures use too.
import { initVotingDisk } from '../../src/disk/voting-disk.js';
import { startFailoverCluster, type FailoverFixture } from '../../test/helpers/cluster-fixture.js';
import { createLoop } from '../../test/helpers/loop.js';
import { startTgtd } from '../../test/helpers/tgtd.js';

export type ClusterKind = 'loop' | 'fenced';

/**
 * ycsm gives up after 5 restarts of ycs within 60 s and backs off from the second; a
 * benchmark that kills ycs 20 times in a row would measure that backoff. With a 1 s
 * window every kill meets ycsm as a first crash does (restarted at once), as in production
 * where a crash is rare. Frozen hosts can be restarted by their ycsm after a thaw too.
 */
const YCSM_ARGS = ['--restart-window-ms', '1000'];

export async function startBenchCluster(kind: ClusterKind): Promise<FailoverFixture> {
  if (kind === 'loop') {
    return startFailoverCluster('bench-loop', {
      ycsmArgs: YCSM_ARGS,
      prepare: (dir, f) => {
        const loop = createLoop(dir, 16 << 20, 512);
        f.defer(() => loop.detach());
        return { votingDisks: [loop.device] };
      },
    });
  }
  return startFailoverCluster('bench-fenced', {
    fencing: 'iscsi-pr',
    initDisks: false,
    ycsmArgs: YCSM_ARGS,
    prepare: async (dir, f) => {
      const voting = await startTgtd({ dir, sizeBytes: 16 << 20, targetIqn: 'iqn.2026-12.io.ycs.bench:voting' });
      f.defer(() => voting.stop());
      const data = await startTgtd({ dir, sizeBytes: 8 << 20, targetIqn: 'iqn.2026-12.io.ycs.bench:data' });
      f.defer(() => data.stop());
      await initVotingDisk(voting.url(), { clusterName: 'demo', hostSlots: 16, force: true, iscsiInitiatorIqn: 'iqn.2026-12.io.ycs.bench:init' });
      return { votingDisks: [voting.url()], dataDisks: [data.url()] };
    },
  });
}
