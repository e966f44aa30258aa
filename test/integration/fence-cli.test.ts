// `ycsctl fence status|HOST` and `ycsctl unfence` through the real CLI process against a
// real iSCSI target (tgtd) whose LUN is a voting disk with three registered hosts.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SectorDevice } from '../../src/disk/device.js';
import { initVotingDisk } from '../../src/disk/voting-disk.js';
import { formatKey } from '../../src/fence/cdb.js';
import { PrFenceDriver } from '../../src/fence/driver.js';
import { reservationKey } from '../../src/fence/keys.js';
import { ScsiPrTransport } from '../../src/fence/transport.js';
import { ensureBuilt, expectOneLineError, ycsctlAsync, type CliRun } from '../helpers/cli.js';
import { scratchDir } from '../helpers/loop.js';
import { startTgtd, type Tgtd } from '../helpers/tgtd.js';

const iqn = (host: number): string => `iqn.2026-11.io.ycs.test:host${host}`;

const ycsctl = (...args: string[]): Promise<CliRun> => ycsctlAsync(args, 20_000);
const oneLineError = expectOneLineError;

describe('ycsctl fence on an iSCSI voting disk', () => {
  let scratch: { dir: string; remove(): void };
  let tgtd: Tgtd;
  let url: string;
  let clusterUuid: string;
  const key = (host: number): string => formatKey(reservationKey(clusterUuid, host));

  beforeAll(async () => {
    ensureBuilt();
    scratch = scratchDir('ycs-fence-cli-');
    tgtd = await startTgtd({ dir: scratch.dir });
    url = tgtd.url();
    const header = await initVotingDisk(url, { clusterName: 'fence-cli', hostSlots: 3, iscsiInitiatorIqn: iqn(9) });
    clusterUuid = header.clusterUuid;
    // Three hosts register and host 1 reserves, each in its own session, then log out
    // (no daemon runs: the CLI acts for the local host in a session of its own).
    for (const id of [1, 2, 3]) {
      const device = await SectorDevice.open(url, { iscsiInitiatorIqn: iqn(id) });
      const driver = new PrFenceDriver({ clusterUuid, hostId: id, devices: [{ path: url, transport: new ScsiPrTransport(device) }] });
      await driver.register();
      if (id === 1) await driver.reserveAsMaster();
      await device.close();
    }
  });

  afterAll(async () => {
    await tgtd?.stop();
    scratch?.remove();
  });

  it('status shows the three hosts\' keys and the reservation, reading the UUID from the disk', async () => {
    const run = await ycsctl('fence', 'status', url);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Cluster UUID  ${clusterUuid}`);
    expect(run.stdout).toMatch(new RegExp(`Reservation\\s+host 1 \\(${key(1)}\\), Write Exclusive - Registrants Only`));
    for (const id of [1, 2, 3]) expect(run.stdout).toMatch(new RegExp(`${key(id)}\\s+${id}\\s+1`));
  });

  it('status --json', async () => {
    const run = await ycsctl('fence', 'status', url, '--json');
    const json = JSON.parse(run.stdout) as { reservation: { hostId: number; type: number }; registrations: Array<{ hostId: number }>; generation: number };
    expect(json.reservation).toMatchObject({ hostId: 1, type: 5 });
    expect(json.registrations.map((r) => r.hostId).sort()).toEqual([1, 2, 3]);
    expect(json.generation).toBeGreaterThan(0);
  });

  it('refuses to fence the local host, and fencing without --yes off a terminal', async () => {
    expect(oneLineError(await ycsctl('fence', '1', '--device', url, '--host-id', '1', '--initiator', iqn(1), '--yes'), 'E_REFUSED'))
      .toMatch(/local host/);
    oneLineError(await ycsctl('fence', '3', '--device', url, '--host-id', '1', '--initiator', iqn(1)), 'E_USAGE', 2);
  });

  it('refuses when the local host does not hold the reservation', async () => {
    const line = oneLineError(await ycsctl('fence', '3', '--device', url, '--host-id', '2', '--initiator', iqn(2), '--yes'), 'E_NOT_MASTER');
    expect(line).toContain('does not hold the reservation');
  });

  it('the reservation holder fences host 3; its key is gone', async () => {
    const run = await ycsctl('fence', '3', '--device', url, '--host-id', '1', '--initiator', iqn(1), '--yes');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`host 3 fenced (key ${key(3)})`);
    expect(run.stdout).toContain('preempt, key gone (verified)');
    const status = await ycsctl('fence', 'status', url);
    expect(status.stdout).not.toContain(key(3));
    expect(status.stdout).toContain(key(1));
  });

  it('unfence needs --force without a daemon, then registers the local host again', async () => {
    oneLineError(await ycsctl('unfence', '--device', url, '--host-id', '3', '--initiator', iqn(3)), 'E_REFUSED');
    const run = await ycsctl('unfence', '--device', url, '--host-id', '3', '--initiator', iqn(3), '--force');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`host 3 registered with key ${key(3)}`);
    expect((await ycsctl('fence', 'status', url)).stdout).toMatch(new RegExp(`${key(3)}\\s+3`));
  });

  it('a regular file has no persistent reservations', async () => {
    oneLineError(await ycsctl('fence', 'status', join(scratch.dir, 'plain.img'), '--cluster-uuid', clusterUuid), 'E_PR_UNSUPPORTED');
  });
});
