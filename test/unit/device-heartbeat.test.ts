// The native heartbeat writer on a regular file: it writes armed records one per tick
// and stops when they run out or when TypeScript fails to re-arm before the deadline.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { YcsError } from '../../src/errors.js';
import { SectorDevice } from '../../src/disk/device.js';
import { scratchDir, sparseFile } from '../helpers/loop.js';

const OFFSET = 4096;
const INTERVAL_MS = 20;

function record(seq: number): Buffer {
  const b = Buffer.alloc(512);
  b.writeUInt32LE(seq, 0);
  return b;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('native heartbeat writer', () => {
  let scratch: { dir: string; remove(): void };
  let device: SectorDevice;
  const writes: Array<{ index: number; error: YcsError | undefined }> = [];

  beforeEach(async () => {
    scratch = scratchDir('ycs-hb-');
    device = await SectorDevice.open(sparseFile(join(scratch.dir, 'disk.img'), 1024 * 1024));
    writes.length = 0;
  });

  afterEach(async () => {
    await device.close();
    scratch.remove();
  });

  const onWrite = (index: number, error: YcsError | undefined): void => {
    writes.push({ index, error });
  };

  it('writes nothing until armed, then one record per tick until they run out', async () => {
    const hb = device.startHeartbeat({ offset: OFFSET, intervalMs: INTERVAL_MS, onWrite });
    await sleep(3 * INTERVAL_MS);
    expect(writes).toEqual([]);
    hb.arm([record(1), record(2), record(3), record(4)], 10_000);
    await sleep(8 * INTERVAL_MS);
    expect(writes).toEqual([0, 1, 2, 3].map((index) => ({ index, error: undefined })));
    expect((await device.read(OFFSET, 512)).readUInt32LE(0)).toBe(4);
    hb.stop();
  });

  it('stops writing when it is not re-armed before the deadline', async () => {
    const hb = device.startHeartbeat({ offset: OFFSET, intervalMs: INTERVAL_MS, onWrite });
    hb.arm(Array.from({ length: 100 }, (_, i) => record(i + 1)), 3 * INTERVAL_MS + INTERVAL_MS / 2);
    await sleep(10 * INTERVAL_MS);
    const written = writes.length;
    expect(written).toBeGreaterThanOrEqual(2);
    expect(written).toBeLessThanOrEqual(4);
    expect((await device.read(OFFSET, 512)).readUInt32LE(0)).toBe(written);
    await sleep(3 * INTERVAL_MS);
    expect(writes.length).toBe(written);
    hb.stop();
  });

  it('replaces the records not yet written on re-arm, and stop() ends it', async () => {
    const hb = device.startHeartbeat({ offset: OFFSET, intervalMs: INTERVAL_MS, onWrite });
    hb.arm([record(1), record(2), record(3)], 10_000);
    hb.arm([record(50)], 10_000);
    await sleep(4 * INTERVAL_MS);
    expect(writes.length).toBe(1);
    expect((await device.read(OFFSET, 512)).readUInt32LE(0)).toBe(50);
    hb.stop();
    expect(() => hb.arm([record(51)], 10_000)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }));
  });

  it('checks its arguments and closes with the device', async () => {
    expect(() => device.startHeartbeat({ offset: 100, intervalMs: INTERVAL_MS })).toThrow(expect.objectContaining({ code: 'E_MISALIGNED' }));
    const hb = device.startHeartbeat({ offset: OFFSET, intervalMs: INTERVAL_MS, onWrite });
    expect(() => device.startHeartbeat({ offset: OFFSET, intervalMs: INTERVAL_MS })).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }));
    expect(() => hb.arm([Buffer.alloc(100)], 1000)).toThrow(expect.objectContaining({ code: 'E_MISALIGNED' }));
    hb.arm([record(1), record(2), record(3), record(4), record(5)], 10_000);
    await device.close();
    const after = writes.length;
    await sleep(3 * INTERVAL_MS);
    expect(writes.length).toBe(after);
    expect(() => hb.arm([record(9)], 1000)).toThrow(expect.objectContaining({ code: 'E_CLOSED' }));
  });
});
