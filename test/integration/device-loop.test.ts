// SectorDevice on real loop devices with 512 B and 4 KiB logical sectors (root needed).
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { YcsError } from '../../src/errors.js';
import { SectorDevice } from '../../src/disk/device.js';
import { createLoop, detachAll, scratchDir, sparseFile, type LoopDevice } from '../helpers/loop.js';

const MiB = 1024 * 1024;

function pattern(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 13 + seed * 7) & 0xff;
  return b;
}

function thrownCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof YcsError) return err.code;
    throw err;
  }
  return 'nothing thrown';
}

// Every case runs on both ways of issuing sector I/O: io_uring from the JS thread (the
// default on a block device) and the device's I/O thread.
const CASES = ([512, 4096] as const).flatMap((sectorSize) => (['auto', 'thread'] as const).map((ioEngine) => ({ sectorSize, ioEngine })));

describe.each(CASES)('SectorDevice on a loop device with $sectorSize-byte sectors, ioEngine $ioEngine', ({ sectorSize, ioEngine }) => {
  let scratch: { dir: string; remove(): void };
  let loop: LoopDevice;
  const open: SectorDevice[] = [];

  beforeAll(() => {
    scratch = scratchDir('ycs-loop-');
    loop = createLoop(scratch.dir, 8 * MiB, sectorSize);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
  });

  afterAll(() => {
    loop.detach();
    scratch.remove();
  });

  async function openDevice(path: string, readOnly = false): Promise<SectorDevice> {
    const device = await SectorDevice.open(path, { readOnly, ioEngine });
    open.push(device);
    return device;
  }

  it('issues sector I/O through the engine asked for', async () => {
    const device = await openDevice(loop.device);
    expect(device.info.ioEngine).toBe(ioEngine === 'auto' ? 'io_uring' : 'thread');
  });

  it('reports geometry from the block layer', async () => {
    const device = await openDevice(loop.device);
    const rdev = statSync(loop.device).rdev;
    expect(device.info).toMatchObject({
      path: loop.device,
      kind: 'block',
      logicalSectorSize: sectorSize,
      physicalSectorSize: sectorSize,
      memoryAlignment: 4096,
      sizeBytes: 8 * MiB,
      identity: `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`,
      readOnly: false,
    });
  });

  it('round-trips multi-sector ranges, bypassing the page cache', async () => {
    const device = await openDevice(loop.device);
    const ranges = [[0, 1], [sectorSize * 3, 5], [8 * MiB - 4 * sectorSize, 4]] as const;
    for (const [offset, sectors] of ranges) {
      const data = pattern(sectors * sectorSize, offset + sectors);
      await device.write(offset, data);
      expect((await device.read(offset, data.length)).equals(data)).toBe(true);
    }
    // A second handle (its own thread, its own descriptor) sees the same sectors.
    const other = await openDevice(loop.device, true);
    expect((await other.read(sectorSize * 3, 5 * sectorSize)).equals(pattern(5 * sectorSize, sectorSize * 3 + 5))).toBe(true);
  });

  it('reads all 64 host slots in one request', async () => {
    const device = await openDevice(loop.device);
    const slots = Buffer.concat(Array.from({ length: 64 }, (_, i) => pattern(sectorSize, i)));
    await device.write(MiB, slots);
    const read = await device.read(MiB, 64 * sectorSize);
    expect(read.length).toBe(64 * sectorSize);
    expect(read.equals(slots)).toBe(true);
  });

  it('keeps the data of concurrent and back-to-back same-size I/Os apart (reused aligned buffers)', async () => {
    const device = await openDevice(loop.device);
    const at = (i: number): number => 2 * MiB + i * 2 * sectorSize;
    // In flight together: each request must own its buffer until it completes.
    await Promise.all(Array.from({ length: 8 }, (_, i) => device.write(at(i), pattern(2 * sectorSize, 100 + i))));
    const reads = await Promise.all(Array.from({ length: 8 }, (_, i) => device.read(at(i), 2 * sectorSize)));
    reads.forEach((data, i) => expect(data.equals(pattern(2 * sectorSize, 100 + i))).toBe(true));
    // Back to back: a returned Buffer is the caller's, never overwritten by a later read.
    const first = await device.read(at(0), 2 * sectorSize);
    await device.read(at(1), 2 * sectorSize);
    expect(first.equals(pattern(2 * sectorSize, 100))).toBe(true);
  });

  it('keeps submission order when I/Os are issued without waiting (one queue for both engines)', async () => {
    const device = await openDevice(loop.device);
    const at = 3 * MiB;
    // write A, read, write B, read, all in flight at once: each read sees the write before it.
    const [, afterA, , afterB] = await Promise.all([
      device.write(at, pattern(sectorSize, 1)),
      device.read(at, sectorSize),
      device.write(at, pattern(sectorSize, 2)),
      device.read(at, sectorSize),
    ]);
    expect(afterA.equals(pattern(sectorSize, 1))).toBe(true);
    expect(afterB.equals(pattern(sectorSize, 2))).toBe(true);
  });

  it('reads into a caller\'s buffer, reused from read to read', async () => {
    const device = await openDevice(loop.device);
    const target = Buffer.alloc(4 * sectorSize, 0xee);
    for (const seed of [7, 8]) {
      await device.write(4 * MiB, pattern(4 * sectorSize, seed));
      await expect(device.readInto(4 * MiB, target)).resolves.toBeUndefined();
      expect(target.equals(pattern(4 * sectorSize, seed))).toBe(true);
    }
    // Any Uint8Array view works, at any address: the bytes are copied in after the read.
    const backing = new Uint8Array(sectorSize + 3);
    const view = backing.subarray(3);
    await device.readInto(4 * MiB, view);
    expect(Buffer.from(view).equals(pattern(4 * sectorSize, 8).subarray(0, sectorSize))).toBe(true);
    expect(thrownCode(() => device.readInto(4 * MiB, Buffer.alloc(sectorSize - 1)))).toBe('E_MISALIGNED');
    expect(thrownCode(() => device.readInto(8 * MiB, Buffer.alloc(sectorSize)))).toBe('E_INVALID_ARGUMENT');
    expect(thrownCode(() => device.readInto(0, 'no' as unknown as Uint8Array))).toBe('E_INVALID_ARGUMENT');
  });

  it('accounts where an I/O spent its time (lastIoTimings)', async () => {
    const device = await openDevice(loop.device);
    const start = process.hrtime.bigint();
    await device.read(0, 64 * sectorSize);
    const endToEndNs = Number(process.hrtime.bigint() - start);
    const t = device.lastIoTimings;
    expect(t.syscallNs).toBeGreaterThan(0);
    expect(t.deliveryNs).toBeGreaterThan(0);
    expect(t.queuedNs + t.syscallNs + t.deliveryNs).toBeLessThanOrEqual(endToEndNs);
  });

  it('refuses I/O that is not a whole number of logical sectors', async () => {
    const device = await openDevice(loop.device);
    if (sectorSize === 4096) {
      expect(thrownCode(() => device.read(512, 512))).toBe('E_MISALIGNED');
      expect(thrownCode(() => device.write(0, Buffer.alloc(512)))).toBe('E_MISALIGNED');
      expect(thrownCode(() => device.read(0, 4096 + 512))).toBe('E_MISALIGNED');
    }
    expect(thrownCode(() => device.read(sectorSize + 1, sectorSize))).toBe('E_MISALIGNED');
    expect(thrownCode(() => device.write(0, Buffer.alloc(sectorSize - 1)))).toBe('E_MISALIGNED');
  });
});

describe('SCSI and PR pass-through on a loop device (which implements neither)', () => {
  let scratch: { dir: string; remove(): void };
  let loop: LoopDevice;
  let device: SectorDevice | undefined;

  beforeAll(() => {
    scratch = scratchDir('ycs-loop-scsi-');
    loop = createLoop(scratch.dir, MiB, 512);
  });

  afterAll(async () => {
    await device?.close();
    loop.detach();
    scratch.remove();
  });

  it('returns the kernel refusal as data, not as a crash or a hang', async () => {
    device = await SectorDevice.open(loop.device);
    const testUnitReady = await device.scsi(new Uint8Array(6), 'none', 0, 2000);
    expect(testUnitReady.osErrno).toBeGreaterThan(0);
    const inquiry = await device.scsi(Uint8Array.from([0x12, 0, 0, 0, 96, 0]), 'in', 96, 2000);
    expect(inquiry.osErrno).toBeGreaterThan(0);
    expect(Buffer.isBuffer(inquiry.sense) && Buffer.isBuffer(inquiry.data)).toBe(true);
    expect(await device.blockPr({ op: 'register', oldKey: 0n, newKey: 0xabcn })).toBeLessThan(0);
    expect(thrownCode(() => device!.scsi(new Uint8Array(3), 'none', 0, 2000))).toBe('E_INVALID_ARGUMENT');
    expect(thrownCode(() => device!.blockPr({ op: 'bogus' as 'clear' }))).toBe('E_INVALID_ARGUMENT');
    // The device still does sector I/O afterwards.
    await device.write(0, Buffer.alloc(512, 9));
    expect((await device.read(0, 512))[0]).toBe(9);
  });
});

describe('SectorDevice on a read-only loop device', () => {
  let scratch: { dir: string; remove(): void };
  let device: string;

  beforeAll(() => {
    scratch = scratchDir('ycs-loop-ro-');
    const file = sparseFile(`${scratch.dir}/ro.img`, MiB);
    device = execFileSync('losetup', ['-f', '--show', '-r', file], { encoding: 'utf8' }).trim();
  });

  afterAll(() => {
    try {
      execFileSync('losetup', ['-d', device], { stdio: 'ignore' });
    } finally {
      scratch.remove();
      detachAll();
    }
  });

  it('reports readOnly from BLKROGET and refuses writes with E_READ_ONLY', async () => {
    for (const readOnly of [false, true]) {
      const dev = await SectorDevice.open(device, { readOnly });
      try {
        expect(dev.info.readOnly).toBe(true);
        expect((await dev.read(0, 512)).length).toBe(512);
        expect(thrownCode(() => dev.write(0, Buffer.alloc(512)))).toBe('E_READ_ONLY');
      } finally {
        await dev.close();
      }
    }
  });
});
