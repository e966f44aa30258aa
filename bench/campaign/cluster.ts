// The campaign's cluster: three hosts on 127.0.9.1-3 (so nft can cut one host's
// heartbeats), each ycsm -> ycs -> demo database in data-LUN mode; two tgtd targets on
// 127.0.0.1, one for the voting LUN and one for the data LUN, fenced with SCSI-3 PR
// ('iscsi-pr', or 'none' for the negative test). Also what the runner reads afterwards:
// the data LUN's backing file and each host's ack log.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initVotingDisk } from '../../src/disk/voting-disk.js';
import type { FencingDriver } from '../../src/config/index.js';
import { startFailoverCluster, type FailoverFixture } from '../../test/helpers/cluster-fixture.js';
import { hostAddress } from '../../test/helpers/netns.js';
import { pidsMentioning } from '../../test/helpers/processes.js';
import { startTgtd, type Tgtd } from '../../test/helpers/tgtd.js';

export const HOSTS = [1, 2, 3];
/** Sectors per host region of the data LUN: 64 MiB, about 55 minutes as primary at 20 writes/s. */
export const REGION_SECTORS = 131_072;

export interface CampaignClusterOptions {
  fencing: FencingDriver;
  /** DISK_HB_KEEP_ALIVE and NETWORK_HB_TIMEOUT (ms). */
  timeoutMs: number;
  /** The negative test's broken database: keeps writing after it lost its lease. */
  unsafeDb?: boolean;
}

export interface CampaignCluster {
  fx: FailoverFixture;
  voting: Tgtd;
  data: Tgtd;
  /** The voting tgtd's pid (a disk stall SIGSTOPs it). */
  votingPid(): number | undefined;
  ackLogPath(hostId: number): string;
  /** Heartbeat-1 UDP ports of every host. */
  ports(): number[];
  addresses: string[];
}

/** Where host `dir`'s database logs its acknowledged writes. */
const ackLogIn = (dir: string): string => join(dir, 'acks.log');

export async function startCampaignCluster(opts: CampaignClusterOptions): Promise<CampaignCluster> {
  let voting: Tgtd | undefined;
  let data: Tgtd | undefined;
  const addresses = HOSTS.map(hostAddress);
  const fx = await startFailoverCluster('campaign', {
    addresses,
    fencing: opts.fencing,
    initDisks: false,
    timeouts: { DISK_HB_KEEP_ALIVE: opts.timeoutMs, NETWORK_HB_TIMEOUT: opts.timeoutMs },
    ycsmArgs: ['--restart-window-ms', '1000'], // a fault every few seconds must not hit ycsm's restart limit
    resourceEnv: (host) => ({
      DEMO_DB_YCS_CONFIG: host.configPath,
      DEMO_DB_ACK_LOG: ackLogIn(host.dir),
      DEMO_DB_REGION_SECTORS: String(REGION_SECTORS),
      ...(opts.unsafeDb === true ? { DEMO_DB_UNSAFE: 'ignore-lease' } : {}),
    }),
    prepare: async (dir, f) => {
      voting = await startTgtd({ dir, sizeBytes: 16 << 20, targetIqn: 'iqn.2026-12.io.ycs.campaign:voting' });
      const v = voting;
      f.defer(() => v.stop());
      // SIGCONT first: a stalled target would hang tgtadm (deferred steps run last first).
      f.defer(() => { for (const pid of tgtdPids(v)) process.kill(pid, 'SIGCONT'); });
      data = await startTgtd({ dir, sizeBytes: (HOSTS.length + 1) * REGION_SECTORS * 512, targetIqn: 'iqn.2026-12.io.ycs.campaign:data' });
      const d = data;
      f.defer(() => d.stop());
      await initVotingDisk(voting.url(), { clusterName: 'demo', hostSlots: 16, force: true, iscsiInitiatorIqn: 'iqn.2026-12.io.ycs.campaign:init' });
      return { votingDisks: [voting.url()], dataDisks: [data.url()] };
    },
  });
  const v = voting!;
  const ports = (JSON.parse(readFileSync(fx.cluster.host(1).configPath, 'utf8')) as { hosts: Array<{ port: number }> }).hosts.map((h) => h.port);
  return {
    fx,
    voting: v,
    data: data!,
    votingPid: () => tgtdPids(v)[0],
    ackLogPath: (id) => ackLogIn(fx.cluster.host(id).dir),
    ports: () => ports,
    addresses,
  };
}

function tgtdPids(t: Tgtd): number[] {
  return pidsMentioning(`portal=127.0.0.1:${t.port} `);
}
