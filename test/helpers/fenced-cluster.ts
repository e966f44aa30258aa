// A three-host local cluster (src/demo/cluster.ts) whose one voting disk is a LUN of a
// real iSCSI target (tgtd on 127.0.0.1), fenced with SCSI-3 persistent reservations
// ('iscsi-pr'): what the daemon-side fencing tests start from. Needs root and tgtd.
import { agreedMaster, startLocalCluster, type LocalCluster } from '../../src/demo/cluster.js';
import { scratchDir } from './loop.js';
import { startTgtd, type Tgtd } from './tgtd.js';

/** The daemon's `fence-status` answer, as the tests read it. */
export interface FenceStatusJson {
  hostId: number;
  key: string;
  state: string;
  devices: Array<{
    device: string;
    reservation: { hostId: number | null; type: number } | null;
    registrations: Array<{ key: string; hostId: number | null; count: number }>;
  }>;
}

/** The host ids registered on the first device, sorted. */
export function registeredHosts(status: FenceStatusJson): number[] {
  return (status.devices[0]?.registrations ?? []).map((r) => r.hostId ?? 0).sort((a, b) => a - b);
}

export interface FencedCluster {
  scratch: { dir: string; remove(): void };
  tgtd: Tgtd;
  cluster: LocalCluster;
  /** The master the hosts agreed on first. */
  master: number;
  /** Stops the cluster and the target and removes the scratch directory. */
  stop(): Promise<void>;
}

export async function startFencedCluster(scratchPrefix: string): Promise<FencedCluster> {
  const scratch = scratchDir(scratchPrefix);
  let tgtd: Tgtd | undefined;
  let cluster: LocalCluster | undefined;
  const stop = async (): Promise<void> => {
    try {
      await cluster?.stop();
      await tgtd?.stop();
    } finally {
      scratch.remove();
    }
  };
  try {
    tgtd = await startTgtd({ dir: scratch.dir, sizeBytes: 16 << 20 });
    // Timeouts above the defaults: other test files may load the machine at the same time.
    cluster = await startLocalCluster({
      dir: scratch.dir,
      votingDisks: [tgtd.url()],
      fencing: 'iscsi-pr',
      timeouts: { DISK_HB_KEEP_ALIVE: 3000, NETWORK_HB_TIMEOUT: 3000 },
    });
    const master = await cluster.waitFor((s) => agreedMaster(s), 30_000, 'an agreed master');
    return { scratch, tgtd, cluster, master, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
