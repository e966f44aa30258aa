// `ycsctl fence status|HOST` and `ycsctl unfence` through the daemon: the real CLI process
// against a real 3-host cluster (ycsm -> ycs, src/demo/cluster.ts) fenced with SCSI-3
// persistent reservations on a real iSCSI target (tgtd on 127.0.0.1). The daemon decides:
// only the reservation holder fences, the local host never, and unfence only while the
// cluster admits the host. Needs root, tgtd and nft.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agreedMaster, type LocalCluster } from '../../src/demo/cluster.js';
import { ensureBuilt, expectOneLineError, ycsctlAsync, type CliRun } from '../helpers/cli.js';
import { registeredHosts as registered, startFencedCluster, type FencedCluster, type FenceStatusJson } from '../helpers/fenced-cluster.js';
import { cutPorts, droppedPackets, healAll } from '../helpers/netns.js';
import type { Tgtd } from '../helpers/tgtd.js';
import { waitUntil as pollProbe } from '../helpers/wait.js';

const ycsctl = (...args: string[]): Promise<CliRun> => ycsctlAsync(args, 30_000);
const oneLineError = expectOneLineError;

const waitUntil = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> =>
  pollProbe(what, timeoutMs, probe, 150);

let fixture: FencedCluster | undefined;
let scratch: { dir: string; remove(): void };
let tgtd: Tgtd | undefined;
let cluster: LocalCluster | undefined;
let master: number;
let victim: number;
let bystander: number;

const socketOf = (host: number): string => cluster!.host(host).socketPath;

function udpPortOf(host: number): number {
  const config = JSON.parse(readFileSync(cluster!.host(host).configPath, 'utf8')) as { hosts: Array<{ id: number; port: number }> };
  return config.hosts.find((h) => h.id === host)!.port;
}

async function fenceStatusJson(host: number): Promise<FenceStatusJson> {
  const run = await ycsctl('fence', 'status', '--json', '--socket', socketOf(host));
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as FenceStatusJson;
}

beforeAll(async () => {
  ensureBuilt();
  fixture = await startFencedCluster('ycs-fence-daemon-cli-');
  ({ scratch, tgtd, cluster, master } = fixture);
  victim = master === 3 ? 2 : 3;
  bystander = [1, 2, 3].find((h) => h !== master && h !== victim)!;
  await waitUntil('three registrations and the master reservation', 15_000, async () => {
    const s = await fenceStatusJson(master);
    return registered(s).join() === '1,2,3' && s.devices[0]?.reservation?.hostId === master ? s : undefined;
  });
}, 90_000);

afterAll(async () => {
  healAll();
  await fixture?.stop();
}, 60_000);

describe('ycsctl fence through the daemon', () => {
  it('fence status asks the daemon (--socket or --config): its host, key, state and the device', async () => {
    const s = await fenceStatusJson(master);
    expect(s).toMatchObject({ hostId: master, state: 'master' });
    expect(s.devices[0]).toMatchObject({ device: tgtd!.url(), reservation: { hostId: master, type: 5 } });
    const viaConfig = await ycsctl('fence', 'status', '--config', cluster!.host(bystander).configPath);
    expect(viaConfig.code, viaConfig.stderr).toBe(0);
    expect(viaConfig.stdout).toMatch(new RegExp(`Local host\\s+${bystander} \\(key 0x[0-9a-f]{16}\\)`));
    expect(viaConfig.stdout).toMatch(/Fence state\s+registered/);
    expect(viaConfig.stdout).toMatch(new RegExp(`Reservation\\s+host ${master} \\(0x[0-9a-f]{16}\\), Write Exclusive - Registrants Only`));
  });

  it('with the daemon down: one line E_DAEMON_DOWN, exit 1', async () => {
    const gone = join(scratch.dir, 'no-daemon.sock');
    expect(oneLineError(await ycsctl('fence', String(victim), '--yes', '--socket', gone), 'E_DAEMON_DOWN')).toContain(gone);
    oneLineError(await ycsctl('unfence', '--socket', gone), 'E_DAEMON_DOWN');
    oneLineError(await ycsctl('fence', 'status', '--socket', gone), 'E_DAEMON_DOWN');
  });

  it('refuses bad command lines before asking the daemon', async () => {
    const sock = socketOf(master);
    oneLineError(await ycsctl('fence', String(victim), '--socket', sock), 'E_USAGE', 2); // no --yes off a terminal
    oneLineError(await ycsctl('fence', String(victim), '--yes', '--host-id', '1', '--socket', sock), 'E_USAGE', 2);
    oneLineError(await ycsctl('unfence', '--force', '--socket', sock), 'E_USAGE', 2);
  });

  it('refuses to fence the local host', async () => {
    expect(oneLineError(await ycsctl('fence', String(master), '--yes', '--socket', socketOf(master)), 'E_REFUSED')).toMatch(/local host/);
    expect(oneLineError(await ycsctl('fence', String(bystander), '--yes', '--socket', socketOf(bystander)), 'E_REFUSED')).toMatch(/local host/);
  });

  it('a host that does not hold the reservation is refused by its daemon (E_NOT_MASTER), and nothing changes', async () => {
    const line = oneLineError(await ycsctl('fence', String(victim), '--yes', '--socket', socketOf(bystander)), 'E_NOT_MASTER');
    expect(line).toContain(`this host (${bystander}) does not hold the reservation`);
    expect(registered(await fenceStatusJson(master))).toEqual([1, 2, 3]);
  });

  it('the master fences a standby: its key is gone; unfence is refused until the cluster admits it again', async () => {
    const victimKey = (await fenceStatusJson(victim)).key;
    const run = await ycsctl('fence', String(victim), '--yes', '--socket', socketOf(master));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^host ${victim} fenced \\(key ${victimKey}\\)`));
    expect(run.stdout).toContain('key gone (verified)');
    // Read both views at once, before the victim can be admitted again (a full keep-alive away).
    const [viaDaemon, direct] = await Promise.all([fenceStatusJson(master), ycsctl('fence', 'status', tgtd!.url())]);
    expect(registered(viaDaemon)).toEqual([1, 2, 3].filter((h) => h !== victim));
    expect(direct.code, direct.stderr).toBe(0);
    expect(direct.stdout).not.toContain(victimKey);

    // The victim meets RESERVATION CONFLICT and leaves the cluster; its daemon refuses unfence.
    // Its heartbeat-1 socket is cut off meanwhile, so that it cannot be admitted again (it asks
    // over the network) before the refusal is seen: a loaded machine may take longer to spawn
    // ycsctl than the cluster takes to readmit it.
    const cut = cutPorts('udp', [udpPortOf(victim)]);
    try {
      await waitUntil('the victim to notice', 10_000, async () => {
        const s = await cluster!.status(victim);
        return s.role === 'evicted' || s.role === 'starting' ? s : undefined;
      });
      expect(oneLineError(await ycsctl('unfence', '--socket', socketOf(victim)), 'E_REFUSED')).toMatch(/not admitted/);
      expect(droppedPackets(cut)).toBeGreaterThan(0);
    } finally {
      cut.heal();
    }

    // Admitted again, it registers by itself; an operator unfence is then accepted.
    await waitUntil('the victim to rejoin registered', 25_000, async () => {
      const s = await cluster!.status(victim);
      return s.role === 'standby' && registered(await fenceStatusJson(master)).includes(victim) ? s : undefined;
    });
    // Readmitted by a newer epoch, it holds that epoch's key (docs/fencing.md "Keys"); the unfence keeps it.
    const rejoinedKey = (await fenceStatusJson(victim)).key;
    expect(rejoinedKey).not.toBe(victimKey);
    expect(rejoinedKey.slice(0, 10)).toBe(victimKey.slice(0, 10)); // the cluster's prefix
    const unfence = await ycsctl('unfence', '--socket', socketOf(victim));
    expect(unfence.code, unfence.stderr).toBe(0);
    expect(unfence.stdout).toBe(`host ${victim} registered with key ${rejoinedKey} on ${tgtd!.url()}\n`);
    expect(registered(await fenceStatusJson(master))).toEqual([1, 2, 3]);
    expect(agreedMaster(await cluster!.statuses())).toBe(master);
  }, 60_000);
});
