// One host of a fencing test: its iSCSI session to a LUN (sector I/O and persistent
// reservations share it: one I_T nexus), the SCSI PR transport over it and the PR driver.
import { SectorDevice } from '../../src/disk/device.js';
import { PrFenceDriver } from '../../src/fence/driver.js';
import { ScsiPrTransport } from '../../src/fence/transport.js';

export interface PrHost {
  device: SectorDevice;
  transport: ScsiPrTransport;
  driver: PrFenceDriver;
}

export async function openPrHost(opts: { url: string; initiatorIqn: string; isid?: bigint; clusterUuid: string; hostId: number }): Promise<PrHost> {
  const device = await SectorDevice.open(opts.url, {
    iscsiInitiatorIqn: opts.initiatorIqn, ioTimeoutMs: 5000, ...(opts.isid !== undefined ? { iscsiIsid: opts.isid } : {}),
  });
  const transport = new ScsiPrTransport(device);
  const driver = new PrFenceDriver({ clusterUuid: opts.clusterUuid, hostId: opts.hostId, devices: [{ path: opts.url, transport }] });
  return { device, transport, driver };
}
