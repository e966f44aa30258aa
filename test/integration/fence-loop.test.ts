// The SG_IO and IOC_PR_* paths on a real loop device, which has neither: SG_IO answers
// EINVAL and IOC_PR_REGISTER EOPNOTSUPP. Both must read as "device does not support
// persistent reservations" with the device's name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SectorDevice } from '../../src/disk/device.js';
import { PrFenceDriver } from '../../src/fence/driver.js';
import { BlockPrTransport, prTransportFor, ScsiPrTransport } from '../../src/fence/transport.js';
import { rejection } from '../helpers/rejection.js';
import { createLoop, detachAll, scratchDir, type LoopDevice } from '../helpers/loop.js';

describe('persistent reservations on a loop device', () => {
  let scratch: { dir: string; remove(): void };
  let loop: LoopDevice;
  let device: SectorDevice;

  beforeAll(async () => {
    scratch = scratchDir('ycs-fence-loop-');
    loop = createLoop(scratch.dir, 4 << 20);
    device = await SectorDevice.open(loop.device);
  });

  afterAll(async () => {
    await device?.close();
    detachAll();
    scratch?.remove();
  });

  it('SG_IO: EINVAL is reported as E_PR_UNSUPPORTED naming the device', async () => {
    const err = await rejection(new ScsiPrTransport(device).readKeys());
    expect(err.code).toBe('E_PR_UNSUPPORTED');
    expect(err.message).toBe(`device does not support persistent reservations: ${loop.device} (SCSI passthrough: EINVAL)`);
    expect(err.device).toBe(loop.device);
  });

  it('IOC_PR_REGISTER: EOPNOTSUPP is reported as E_PR_UNSUPPORTED naming the device', async () => {
    const err = await rejection(new BlockPrTransport(device).registerAndIgnore(0x1234n));
    expect(err.code).toBe('E_PR_UNSUPPORTED');
    expect(err.message).toBe(
      `device does not support persistent reservations: ${loop.device} (IOC_PR REGISTER AND IGNORE EXISTING KEY: EOPNOTSUPP)`,
    );
  });

  it('the driver picked by path (block PR) refuses to register, naming the device', async () => {
    const transport = prTransportFor(device);
    expect(transport.kind).toBe('block-pr');
    const driver = new PrFenceDriver({
      clusterUuid: '6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b', hostId: 1, devices: [{ path: loop.device, transport }],
    });
    const err = await rejection(driver.register());
    expect(err.code).toBe('E_PR_UNSUPPORTED');
    expect(err.message).toContain(loop.device);
    expect((await driver.status()).state).toBe('unknown'); // block PR cannot read keys
  });
});
