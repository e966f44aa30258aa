// Key reads on the block-layer PR path (BlockPrTransport): IOC_PR_READ_KEYS /
// IOC_PR_READ_RESERVATION first, PR IN through SG_IO on the SCSI generic node of the same
// device where the kernel lacks them (ENOTTY / EINVAL / EOPNOTSUPP), one-line
// E_PR_UNSUPPORTED naming both reasons when neither works. The order is driven through an
// injected read layer; the sysfs walk through a fake /sys tree; and on a real loop device
// (this kernel has no read ioctls, loop has no PR ops and no sg node) the whole native path.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlockPrRequest, ScsiDirection, ScsiReply } from '../../src/disk/device.js';
import { SectorDevice } from '../../src/disk/device.js';
import {
  BlockPrTransport,
  type BlockPrKeysOutcome,
  type BlockPrReadLayer,
  type BlockPrReservationOutcome,
  type PrDevice,
  prTransportFor,
  type ScsiGenericLookup,
  scsiGenericNodeFor,
} from '../../src/fence/transport.js';
import { createLoop, detachAll, type LoopDevice, scratchDir } from '../helpers/loop.js';
import { rejection } from '../helpers/rejection.js';

const ENOTTY = 25;
const EINVAL = 22;
const EIO = 5;
const EOPNOTSUPP = 95;

const NO_DEVICE: PrDevice = {
  info: { path: '/dev/nvme0n1' },
  scsi: () => Promise.reject(new Error('reads never use the SectorDevice passthrough')),
  blockPr: (_r: BlockPrRequest) => Promise.resolve(0),
};

/** READ KEYS parameter data: generation, additional length, keys (big-endian). */
function keysData(generation: number, keys: bigint[]): Buffer {
  const b = Buffer.alloc(8 + 8 * keys.length);
  b.writeUInt32BE(generation, 0);
  b.writeUInt32BE(8 * keys.length, 4);
  keys.forEach((k, i) => b.writeBigUInt64BE(k, 8 + 8 * i));
  return b;
}

interface FakeOptions {
  keys?: Array<Partial<BlockPrKeysOutcome>>;
  reservation?: Partial<BlockPrReservationOutcome>;
  generic?: ScsiGenericLookup;
  sgReply?: Partial<ScsiReply>;
}

/** A read layer that records the order of what it was asked. */
class FakeReads implements BlockPrReadLayer {
  readonly calls: string[] = [];
  /** What the fake answers; a test may change it between calls. */
  constructor(public o: FakeOptions) {}

  readKeys(path: string, capacity: number): Promise<BlockPrKeysOutcome> {
    this.calls.push(`ioctl READ_KEYS ${path} ${capacity}`);
    const next = this.o.keys?.shift() ?? { rc: -ENOTTY };
    return Promise.resolve({ stage: 'ioctl', rc: 0, generation: 0, numKeys: 0, keys: [], ...next });
  }

  readReservation(path: string): Promise<BlockPrReservationOutcome> {
    this.calls.push(`ioctl READ_RESERVATION ${path}`);
    return Promise.resolve({ stage: 'ioctl', rc: -ENOTTY, key: 0n, generation: 0, type: 0, ...this.o.reservation });
  }

  scsiGenericNode(path: string): ScsiGenericLookup {
    this.calls.push(`sysfs ${path}`);
    return this.o.generic ?? { reason: 'nvme0n1 has no SCSI generic node (no device/scsi_generic in sysfs)' };
  }

  sgDevice(node: string): PrDevice {
    return {
      info: { path: node },
      scsi: (cdb: Uint8Array, direction: ScsiDirection, _data: Uint8Array | number): Promise<ScsiReply> => {
        this.calls.push(`SG_IO ${node} ${Buffer.from(cdb).toString('hex')} ${direction}`);
        return Promise.resolve({ osErrno: 0, status: 0, hostStatus: 0, sense: Buffer.alloc(0), data: keysData(7, [0xaan, 0xbbn]), ...this.o.sgReply });
      },
      blockPr: () => Promise.reject(new Error('no IOC_PR_* on the sg path')),
    };
  }
}

describe('BlockPrTransport reads: the ioctls first', () => {
  it('IOC_PR_READ_KEYS answers: its keys, no sysfs lookup, support "ioctl"', async () => {
    const reads = new FakeReads({ keys: [{ generation: 9, numKeys: 2, keys: [1n, 2n] }] });
    const t = new BlockPrTransport(NO_DEVICE, reads);
    expect(await t.readKeys()).toEqual({ generation: 9, keys: [1n, 2n], truncated: false });
    expect(await t.keyReadSupport()).toBe('ioctl');
    expect(reads.calls).toEqual(['ioctl READ_KEYS /dev/nvme0n1 256']);
  });

  it('asks again with room for every key when the device holds more than fit', async () => {
    const many = Array.from({ length: 300 }, (_, i) => BigInt(i + 1));
    const reads = new FakeReads({ keys: [{ numKeys: 300, keys: many.slice(0, 256) }, { numKeys: 300, keys: many }] });
    const result = await new BlockPrTransport(NO_DEVICE, reads).readKeys();
    expect(result.keys).toHaveLength(300);
    expect(result.truncated).toBe(false);
    expect(reads.calls).toEqual(['ioctl READ_KEYS /dev/nvme0n1 256', 'ioctl READ_KEYS /dev/nvme0n1 300']);
  });

  it('IOC_PR_READ_RESERVATION: block-layer type back to the SCSI code; type 0 is no reservation', async () => {
    const held = new BlockPrTransport(NO_DEVICE, new FakeReads({ reservation: { rc: 0, key: 0x77n, generation: 3, type: 5 } }));
    expect(await held.readReservation()).toEqual({ generation: 3, reservation: { key: 0x77n, scope: 0, type: 7 } });
    const none = new BlockPrTransport(NO_DEVICE, new FakeReads({ reservation: { rc: 0, generation: 4, type: 0 } }));
    expect(await none.readReservation()).toEqual({ generation: 4, reservation: null });
  });

  it('an I/O error is reported, not taken for "no ioctl": no fallback, support "none" for now', async () => {
    const reads = new FakeReads({ keys: [{ rc: -EIO }, { rc: -EIO }, { rc: 0, numKeys: 1, keys: [5n] }] });
    const t = new BlockPrTransport(NO_DEVICE, reads);
    const err = await rejection(t.readKeys());
    expect(err.toLine()).toBe('E_IO: READ KEYS on /dev/nvme0n1 failed: EIO');
    expect(await t.keyReadSupport()).toBe('none'); // not cached: the next probe reads again
    expect(await t.keyReadSupport()).toBe('ioctl');
    expect(reads.calls.every((c) => c.startsWith('ioctl'))).toBe(true);
  });

  it('a RESERVATION CONFLICT pr_status from the ioctl is E_RESERVATION_CONFLICT', async () => {
    const err = await rejection(new BlockPrTransport(NO_DEVICE, new FakeReads({ keys: [{ rc: 0x18 }] })).readKeys());
    expect(err.code).toBe('E_RESERVATION_CONFLICT');
  });
});

describe('BlockPrTransport reads: SG_IO on the SCSI generic node where the kernel has no read ioctls', () => {
  it.each([['ENOTTY', ENOTTY], ['EINVAL', EINVAL], ['EOPNOTSUPP', EOPNOTSUPP]])('%s: PR IN READ KEYS through the sg node', async (_name, errno) => {
    const reads = new FakeReads({ keys: [{ rc: -errno }], generic: { node: '/dev/sg4' } });
    const t = new BlockPrTransport(NO_DEVICE, reads);
    expect(await t.readKeys()).toEqual({ generation: 7, keys: [0xaan, 0xbbn], truncated: false });
    expect(reads.calls).toEqual([
      'ioctl READ_KEYS /dev/nvme0n1 256',
      'sysfs /dev/nvme0n1',
      'SG_IO /dev/sg4 5e000000000000100000 in',
    ]);
    expect(await t.keyReadSupport()).toBe('sg');
  });

  it('once an ioctl said "not here" it is not tried again; each read names its own ioctl', async () => {
    const reservationData = Buffer.alloc(24);
    reservationData.writeUInt32BE(8, 0);
    reservationData.writeUInt32BE(16, 4);
    reservationData.writeBigUInt64BE(0x42n, 8);
    reservationData[21] = 0x07;
    const reads = new FakeReads({ keys: [{ rc: -ENOTTY }], generic: { node: '/dev/sg4' } });
    const t = new BlockPrTransport(NO_DEVICE, reads);
    await t.readKeys();
    await t.readKeys();
    reads.o = { generic: { node: '/dev/sg4' }, sgReply: { data: reservationData } };
    expect(await t.readReservation()).toEqual({ generation: 8, reservation: { key: 0x42n, scope: 0, type: 7 } });
    await t.readReservation();
    expect(reads.calls.filter((c) => c.startsWith('ioctl'))).toEqual(['ioctl READ_KEYS /dev/nvme0n1 256', 'ioctl READ_RESERVATION /dev/nvme0n1']);
    expect(reads.calls.filter((c) => c.startsWith('SG_IO'))).toEqual([
      'SG_IO /dev/sg4 5e000000000000100000 in',
      'SG_IO /dev/sg4 5e000000000000100000 in',
      'SG_IO /dev/sg4 5e010000000000100000 in',
      'SG_IO /dev/sg4 5e010000000000100000 in',
    ]);
  });

  it('REPORT CAPABILITIES has no ioctl: straight to the sg node', async () => {
    const caps = Buffer.from('0008000000000000', 'hex');
    const reads = new FakeReads({ generic: { node: '/dev/sg4' }, sgReply: { data: caps } });
    await new BlockPrTransport(NO_DEVICE, reads).reportCapabilities();
    expect(reads.calls).toEqual(['sysfs /dev/nvme0n1', 'SG_IO /dev/sg4 5e020000000000100000 in']);
  });

  it('neither: one-line E_PR_UNSUPPORTED naming the device, the ioctl errno and why there is no sg node', async () => {
    const t = new BlockPrTransport(NO_DEVICE, new FakeReads({ keys: [{ rc: -EINVAL }] }));
    const err = await rejection(t.readKeys());
    expect(err.toLine()).toBe(
      'E_PR_UNSUPPORTED: device does not support persistent reservations: /dev/nvme0n1 ' +
        '(IOC_PR READ KEYS: EINVAL; SG_IO: nvme0n1 has no SCSI generic node (no device/scsi_generic in sysfs))',
    );
    expect(err.device).toBe('/dev/nvme0n1');
    expect(await t.keyReadSupport()).toBe('none');
  });

  it('neither: the sg node refuses SG_IO, both reasons in one line', async () => {
    const reads = new FakeReads({ keys: [{ rc: -EOPNOTSUPP }], generic: { node: '/dev/sg4' }, sgReply: { osErrno: EINVAL } });
    const err = await rejection(new BlockPrTransport(NO_DEVICE, reads).readKeys());
    expect(err.toLine()).toBe(
      'E_PR_UNSUPPORTED: device does not support persistent reservations: /dev/nvme0n1 ' +
        '(IOC_PR READ KEYS: EOPNOTSUPP; SG_IO on /dev/sg4: SCSI passthrough: EINVAL)',
    );
  });

  it('neither: the LU refuses the service action (ILLEGAL REQUEST 20/00), both reasons', async () => {
    const sense = Buffer.from('7000050000000010000000002000', 'hex');
    const reads = new FakeReads({ keys: [{ rc: -ENOTTY }], generic: { node: '/dev/sg4' }, sgReply: { status: 0x02, sense } });
    const err = await rejection(new BlockPrTransport(NO_DEVICE, reads).readKeys());
    expect(err.code).toBe('E_PR_UNSUPPORTED');
    expect(err.message).toMatch(/^device does not support persistent reservations: \/dev\/nvme0n1 \(IOC_PR READ KEYS: ENOTTY; SG_IO on \/dev\/sg4: \/dev\/sg4 does not support PERSISTENT RESERVE IN service action READ KEYS .*\)$/);
    expect(err.message).not.toContain('\n');
  });
});

describe('scsiGenericNodeFor: the sg node of a block device through sysfs', () => {
  let scratch: { dir: string; remove(): void };
  let roots: { sys: string; dev: string };

  beforeAll(() => {
    scratch = scratchDir('ycs-sysfs-');
    const sys = join(scratch.dir, 'sys');
    const dev = join(scratch.dir, 'dev');
    roots = { sys, dev };
    const mk = (p: string): string => {
      mkdirSync(p, { recursive: true });
      return p;
    };
    mk(join(sys, 'class/block'));
    mk(join(dev, 'vg'));
    // Two SCSI disks (sdb with partition sdb1, sdc) and one without an sg node (sdd).
    for (const [disk, sg] of [['sdb', 'sg2'], ['sdc', 'sg3'], ['sdd', null]] as const) {
      const scsiDev = mk(join(sys, `devices/pci0/host0/target0/${disk}-lun`));
      if (sg) mk(join(scsiDev, 'scsi_generic', sg));
      const blockDir = mk(join(scsiDev, 'block', disk));
      symlinkSync(scsiDev, join(blockDir, 'device'));
      symlinkSync(blockDir, join(sys, 'class/block', disk));
      if (sg) writeFileSync(join(dev, sg), '');
      writeFileSync(join(dev, disk), '');
    }
    const sdb1 = mk(join(sys, 'devices/pci0/host0/target0/sdb-lun/block/sdb/sdb1'));
    writeFileSync(join(sdb1, 'partition'), '1\n');
    symlinkSync(sdb1, join(sys, 'class/block/sdb1'));
    writeFileSync(join(dev, 'sdb1'), '');
    // dm-3: multipath over sdb and sdc; dm-4: LVM over sdb1 and sdd; dm-5: LVM on sdb1 only.
    const dm = (name: string, uuid: string, slaves: string[]): void => {
      const d = mk(join(sys, 'devices/virtual/block', name));
      mk(join(d, 'dm'));
      writeFileSync(join(d, 'dm/uuid'), `${uuid}\n`);
      mk(join(d, 'slaves'));
      for (const s of slaves) symlinkSync(join(sys, 'class/block', s), join(d, 'slaves', s));
      symlinkSync(d, join(sys, 'class/block', name));
      writeFileSync(join(dev, name), '');
    };
    dm('dm-3', 'mpath-36001405abcdef', ['sdb', 'sdc']);
    dm('dm-4', 'LVM-aaaa', ['sdb1', 'sdd']);
    dm('dm-5', 'LVM-bbbb', ['sdb1']);
    symlinkSync('../dm-5', join(dev, 'vg/lv'));
    const loop = mk(join(sys, 'devices/virtual/block/loop9'));
    symlinkSync(loop, join(sys, 'class/block/loop9'));
    writeFileSync(join(dev, 'loop9'), '');
  });

  afterAll(() => scratch?.remove());

  it('a disk: its device/scsi_generic node', () => {
    expect(scsiGenericNodeFor(join(roots.dev, 'sdc'), roots)).toEqual({ node: join(roots.dev, 'sg3') });
  });

  it('a partition: the whole disk\'s node', () => {
    expect(scsiGenericNodeFor(join(roots.dev, 'sdb1'), roots)).toEqual({ node: join(roots.dev, 'sg2') });
  });

  it('dm-multipath: the node of a path (all paths are one LU)', () => {
    expect(scsiGenericNodeFor(join(roots.dev, 'dm-3'), roots)).toEqual({ node: join(roots.dev, 'sg2') });
  });

  it('a symlink to a dm device with one device below it, itself a partition', () => {
    expect(scsiGenericNodeFor(join(roots.dev, 'vg/lv'), roots)).toEqual({ node: join(roots.dev, 'sg2') });
  });

  it('a dm device over several LUs has no single node', () => {
    expect(scsiGenericNodeFor(join(roots.dev, 'dm-4'), roots)).toEqual({ reason: 'dm-4 spans 2 devices (sdb1, sdd), not one SCSI LU' });
  });

  it('no scsi_generic: the reason names the device', () => {
    expect(scsiGenericNodeFor(join(roots.dev, 'sdd'), roots)).toEqual({ reason: 'sdd has no SCSI generic node (no device/scsi_generic in sysfs)' });
    expect(scsiGenericNodeFor(join(roots.dev, 'loop9'), roots)).toEqual({ reason: 'loop9 has no SCSI generic node (no device/scsi_generic in sysfs)' });
  });

  it('a path that does not exist', () => {
    expect(scsiGenericNodeFor(join(roots.dev, 'nvme9n9'), roots)).toEqual({ reason: `cannot resolve ${join(roots.dev, 'nvme9n9')}: ENOENT` });
  });
});

describe('BlockPrTransport reads on a real loop device (no read ioctls on this kernel, no PR ops, no sg node)', () => {
  let scratch: { dir: string; remove(): void };
  let loop: LoopDevice;
  let device: SectorDevice;

  beforeAll(async () => {
    scratch = scratchDir('ycs-fence-reads-');
    loop = createLoop(scratch.dir, 4 << 20);
    device = await SectorDevice.open(loop.device);
  });

  afterAll(async () => {
    await device?.close();
    detachAll();
    scratch?.remove();
  });

  it('the real sysfs: a loop device has no SCSI generic node', () => {
    const name = loop.device.replace('/dev/', '');
    expect(scsiGenericNodeFor(loop.device)).toEqual({ reason: `${name} has no SCSI generic node (no device/scsi_generic in sysfs)` });
  });

  let transport: ReturnType<typeof prTransportFor>;

  it.each([['readKeys', 'READ KEYS'], ['readReservation', 'READ RESERVATION']] as const)(
    '%s: one-line E_PR_UNSUPPORTED naming the device and both reasons',
    async (method, name) => {
      transport ??= prTransportFor(device); // one transport: the second read names its own ioctl
      expect(transport.kind).toBe('block-pr');
      const err = await rejection(transport[method]());
      const dev = loop.device;
      // Kernels with the read ioctls answer EOPNOTSUPP (loop has no pr_ops); older ones
      // pass the unknown request on to the loop driver, which answers EINVAL.
      expect(err.toLine()).toMatch(
        new RegExp(
          `^E_PR_UNSUPPORTED: device does not support persistent reservations: ${dev} ` +
            `\\(IOC_PR ${name}: (EINVAL|EOPNOTSUPP|ENOTTY); SG_IO: ${dev.replace('/dev/', '')} has no SCSI generic node \\(no device/scsi_generic in sysfs\\)\\)$`,
        ),
      );
      expect(err.device).toBe(dev);
      expect(await transport.keyReadSupport()).toBe('none');
    },
  );
});
