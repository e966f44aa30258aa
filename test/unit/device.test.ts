// SectorDevice on regular files (O_DIRECT on ext4 enforces alignment; tmpfs would not:
// the scratch directory must not be on tmpfs).
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isYcsError, YcsError } from '../../src/errors.js';
import { fromNativeError, SectorDevice, type DeviceHealth } from '../../src/disk/device.js';
import { scratchDir, sparseFile } from '../helpers/loop.js';
import { rejection as rejected } from '../helpers/rejection.js';

const MiB = 1024 * 1024;

function pattern(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function thrown(fn: () => unknown): YcsError {
  try {
    fn();
  } catch (err) {
    if (err instanceof YcsError) return err;
    throw err;
  }
  throw new Error('expected a synchronous YcsError');
}

describe('SectorDevice on a regular file', () => {
  let scratch: { dir: string; remove(): void };
  let file: string;
  const open: SectorDevice[] = [];

  beforeEach(() => {
    scratch = scratchDir('ycs-device-');
    expect(execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', scratch.dir], { encoding: 'utf8' }).trim()).not.toBe('tmpfs');
    file = sparseFile(join(scratch.dir, 'disk.img'), 4 * MiB);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
    scratch.remove();
  });

  async function openDevice(...args: Parameters<typeof SectorDevice.open>): Promise<SectorDevice> {
    const device = await SectorDevice.open(...args);
    open.push(device);
    return device;
  }

  it('reports the geometry of the file', async () => {
    const device = await openDevice(file);
    const st = statSync(file);
    expect(device.info).toMatchObject({
      path: file, kind: 'file', logicalSectorSize: 512, memoryAlignment: 4096, sizeBytes: 4 * MiB, readOnly: false,
      identity: `${st.dev}:${st.ino}`,
    });
    expect(device.info.physicalSectorSize % device.info.logicalSectorSize).toBe(0);
    expect(device.health).toBe('ok');
  });

  it('writes and reads back multi-sector ranges, from any source buffer alignment', async () => {
    const device = await openDevice(file);
    const data = pattern(3 * 512, 7);
    await device.write(1024, data);
    expect((await device.read(1024, 3 * 512)).equals(data)).toBe(true);
    // A view at an odd address (Node Buffers are only 16-byte aligned anyway): the addon copies.
    const backing = pattern(4096 + 1, 9);
    const odd = backing.subarray(1);
    await device.write(8192, odd);
    expect((await device.read(8192, 4096)).equals(odd)).toBe(true);
    // The bytes are in the file itself, not only in some cache of ours.
    expect(readFileSync(file).subarray(1024, 1024 + data.length).equals(data)).toBe(true);
  });

  it('keeps concurrent requests independent', async () => {
    const device = await openDevice(file);
    const writes = Array.from({ length: 32 }, (_, i) => device.write(i * 512, pattern(512, i)));
    await Promise.all(writes);
    const reads = await Promise.all(Array.from({ length: 32 }, (_, i) => device.read(i * 512, 512)));
    reads.forEach((r, i) => expect(r.equals(pattern(512, i))).toBe(true));
  });

  it('refuses misaligned offsets and lengths with E_MISALIGNED before any I/O', async () => {
    const device = await openDevice(file);
    for (const [offset, length] of [[100, 512], [512, 100], [0, 0], [511, 1024]] as const) {
      const err = thrown(() => device.read(offset, length));
      expect(err.code).toBe('E_MISALIGNED');
      expect(err).toMatchObject({ errno: 'EINVAL', device: file, op: 'read', offset });
    }
    expect(thrown(() => device.write(256, Buffer.alloc(512))).code).toBe('E_MISALIGNED');
    expect(thrown(() => device.write(0, Buffer.alloc(700))).message).toMatch(/not a whole number of 512-byte logical sectors/);
  });

  it('refuses I/O past the end and bad arguments with E_INVALID_ARGUMENT', async () => {
    const device = await openDevice(file);
    expect(thrown(() => device.read(4 * MiB, 512)).code).toBe('E_INVALID_ARGUMENT');
    expect(thrown(() => device.read(-512, 512)).code).toBe('E_INVALID_ARGUMENT');
    expect(thrown(() => device.read(0, 512, { timeoutMs: 0 })).code).toBe('E_INVALID_ARGUMENT');
    expect(thrown(() => device.write(0, 'abc' as unknown as Uint8Array)).code).toBe('E_INVALID_ARGUMENT');
  });

  it('reports a missing path as E_NOT_FOUND', async () => {
    const missing = join(scratch.dir, 'nope.img');
    const err = await rejected(SectorDevice.open(missing));
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.errno).toBe('ENOENT');
    expect(err.message).toBe(`no such device or file: ${missing}`);
  });

  it('reports a directory as an I/O error naming the errno', async () => {
    const err = await rejected(SectorDevice.open(scratch.dir));
    expect(err.errno).toBe('EISDIR');
    expect(err.message).toContain(scratch.dir);
  });

  it('opens read-only: reads work, writes are refused with E_READ_ONLY', async () => {
    const writer = await openDevice(file);
    await writer.write(0, pattern(512, 3));
    const reader = await openDevice(file, { readOnly: true });
    expect(reader.info.readOnly).toBe(true);
    expect((await reader.read(0, 512)).equals(pattern(512, 3))).toBe(true);
    const err = thrown(() => reader.write(0, pattern(512, 4)));
    expect(err.code).toBe('E_READ_ONLY');
    expect(err.errno).toBe('EROFS');
  });

  it('closes idempotently and refuses every call after close with E_CLOSED', async () => {
    const events: DeviceHealth[] = [];
    const device = await SectorDevice.open(file, { onHealthChange: (h) => events.push(h) });
    const first = device.close();
    const second = device.close();
    expect(second).toBe(first);
    await first;
    await device.close();
    expect(device.health).toBe('closed');
    expect(events).toEqual(['closed']);
    for (const call of [() => device.read(0, 512), () => device.write(0, Buffer.alloc(512)), () => device.blockPr({ op: 'clear' })]) {
      const err = thrown(call);
      expect(err.code).toBe('E_CLOSED');
      expect(err.device).toBe(file);
    }
  });

  it('lets queued I/O finish before close resolves', async () => {
    const device = await SectorDevice.open(file);
    const writes = Array.from({ length: 8 }, (_, i) => device.write(i * 4096, pattern(4096, i)));
    await device.close();
    await Promise.all(writes);
    expect(readFileSync(file).subarray(7 * 4096, 8 * 4096).equals(pattern(4096, 7))).toBe(true);
  });

  it('answers block PR on a regular file with an error number, never a crash', async () => {
    const device = await openDevice(file);
    const result = await device.blockPr({ op: 'register', oldKey: 0n, newKey: 0x1234n });
    expect(result).toBeLessThan(0);
  });

  it('converts anything the addon throws into a YcsError', () => {
    expect(fromNativeError({ code: 'E_IO', message: 'boom', errno: 'EIO', device: '/d', op: 'read', offset: 512 })).toMatchObject({
      code: 'E_IO', message: 'boom', errno: 'EIO', device: '/d', op: 'read', offset: 512,
    });
    expect(isYcsError(fromNativeError(new TypeError('x')), 'E_INTERNAL')).toBe(true);
  });
});
