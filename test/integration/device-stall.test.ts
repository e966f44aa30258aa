// A really hung device: a loop device over a file on a bindfs (FUSE) mount whose daemon
// is SIGSTOPped, so the I/O waits in the kernel. The I/O must be reported late at its
// deadline while the syscall is still stuck, later requests must fail fast, the event
// loop must stay responsive and another device must keep working; after SIGCONT the
// device recovers.
import { getPriority, setPriority } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { YcsError } from '../../src/errors.js';
import { SectorDevice, type DeviceHealth } from '../../src/disk/device.js';
import { createFuseStall, teardownAllFuseStalls, type FuseStall } from '../helpers/fuse-stall.js';
import { createLoop, detachAll, scratchDir, sparseFile, type LoopDevice } from '../helpers/loop.js';

const MiB = 1024 * 1024;
const IO_TIMEOUT_MS = 400;
const TIMEOUT_SLACK_MS = 150;
const FAST_MS = 50;

async function failure(p: Promise<unknown>): Promise<{ err: YcsError; elapsedMs: number }> {
  const start = performance.now();
  try {
    await p;
  } catch (err) {
    if (!(err instanceof YcsError)) throw err;
    return { err, elapsedMs: performance.now() - start };
  }
  throw new Error('expected the I/O to fail');
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

describe.each(['auto', 'thread'] as const)('a device whose I/O hangs in the kernel, ioEngine %s', (ioEngine) => {
  let fuse: FuseStall;
  let scratch: { dir: string; remove(): void };
  let healthy: LoopDevice;
  const open: SectorDevice[] = [];
  const priorityBefore = getPriority();

  beforeAll(async () => {
    // The daemon runs at a raised priority in production, as cluster managers do; do the
    // same here so that the lag measured is ours, not other jobs' on a shared machine.
    setPriority(-10);
    fuse = await createFuseStall(16 * MiB);
    scratch = scratchDir('ycs-stall-');
    healthy = createLoop(scratch.dir, 8 * MiB);
  });

  afterEach(async () => {
    fuse.resume(); // never leave I/O hung, even when an assertion failed mid-stall
    await Promise.all(open.splice(0).map((d) => d.close()));
  });

  afterAll(async () => {
    setPriority(priorityBefore);
    fuse.resume();
    await teardownAllFuseStalls();
    healthy.detach();
    detachAll();
    scratch.remove();
  });

  async function openDevice(path: string, events?: DeviceHealth[]): Promise<SectorDevice> {
    const device = await SectorDevice.open(path, {
      ioTimeoutMs: IO_TIMEOUT_MS,
      ioEngine,
      ...(events ? { onHealthChange: (h: DeviceHealth) => events.push(h) } : {}),
    });
    open.push(device);
    return device;
  }

  it('reports the stuck I/O late, fails fast while stalled, keeps the loop and other devices going, then recovers', async () => {
    const events: DeviceHealth[] = [];
    const stuck = await openDevice(fuse.loop.device, events);
    const other = await openDevice(healthy.device);
    await stuck.write(0, Buffer.alloc(512, 1)); // the path works before the stall

    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    fuse.stall();

    const late = await failure(stuck.write(64 * 1024, Buffer.alloc(512, 2)));
    expect(late.err.code).toBe('E_DISK_TIMEOUT');
    expect(late.err).toMatchObject({ errno: 'ETIMEDOUT', device: fuse.loop.device, op: 'write', offset: 64 * 1024 });
    expect(late.elapsedMs).toBeGreaterThanOrEqual(IO_TIMEOUT_MS - 5);
    expect(late.elapsedMs).toBeLessThan(IO_TIMEOUT_MS + TIMEOUT_SLACK_MS);
    expect(stuck.health).toBe('stalled');

    const refused = await failure(stuck.read(0, 512));
    expect(refused.err.code).toBe('E_DISK_STALLED');
    expect(refused.err.message).toContain(fuse.loop.device);
    expect(refused.elapsedMs).toBeLessThan(FAST_MS);

    // The other device keeps working while the first one's thread is stuck in the kernel.
    for (let i = 0; i < 20; i++) {
      const data = Buffer.alloc(512, i);
      await other.write(i * 512, data);
      expect((await other.read(i * 512, 512)).equals(data)).toBe(true);
    }
    await new Promise((r) => setTimeout(r, 200));
    lag.disable();
    const p99Ms = lag.percentile(99) / 1e6;
    expect(p99Ms).toBeLessThan(10);
    expect(stuck.health).toBe('stalled');

    fuse.resume();
    await waitUntil(() => stuck.health === 'ok', 5000);
    expect(stuck.health).toBe('ok');
    expect(events).toEqual(['stalled', 'ok']);
    // The late write was still in the kernel; it completed once the path came back.
    expect((await stuck.read(64 * 1024, 512)).equals(Buffer.alloc(512, 2))).toBe(true);
  });

  it('rejects queued requests as stalled and lets close() return at once on a stuck device', async () => {
    const stuck = await openDevice(fuse.loop.device);
    fuse.stall();
    const first = failure(stuck.write(128 * 1024, Buffer.alloc(512, 3)));
    const queued = failure(stuck.read(0, 512, { timeoutMs: 5000 }));
    const [a, b] = await Promise.all([first, queued]);
    expect(a.err.code).toBe('E_DISK_TIMEOUT');
    expect(b.err.code).toBe('E_DISK_STALLED');
    expect(b.elapsedMs).toBeLessThan(IO_TIMEOUT_MS + TIMEOUT_SLACK_MS);

    const start = performance.now();
    await stuck.close();
    expect(performance.now() - start).toBeLessThan(FAST_MS);
    expect(stuck.health).toBe('closed');
    expect(() => stuck.read(0, 512)).toThrow(expect.objectContaining({ code: 'E_CLOSED' }));
    fuse.resume();
  });

  it('never writes into a readInto target when the read timed out, even after it completes', async () => {
    const stuck = await openDevice(fuse.loop.device);
    expect(stuck.info.ioEngine).toBe(ioEngine === 'auto' ? 'io_uring' : 'thread');
    await stuck.write(192 * 1024, Buffer.alloc(512, 9));
    const target = Buffer.alloc(512, 0xaa);
    fuse.stall();
    const late = await failure(stuck.readInto(192 * 1024, target));
    expect(late.err.code).toBe('E_DISK_TIMEOUT');
    fuse.resume();
    await waitUntil(() => stuck.health === 'ok', 5000);
    expect(stuck.health).toBe('ok');
    expect(target.equals(Buffer.alloc(512, 0xaa))).toBe(true);
    // The device is usable again, through the same engine.
    await stuck.readInto(192 * 1024, target);
    expect(target.equals(Buffer.alloc(512, 9))).toBe(true);
  });

  it('times out an open that hangs', async () => {
    const file = sparseFile(join(fuse.mountDir, 'direct.img'), MiB);
    fuse.stall();
    const start = performance.now();
    const hung = await failure(SectorDevice.open(file, { ioTimeoutMs: IO_TIMEOUT_MS, ioEngine }));
    expect(hung.err.code).toBe('E_DISK_TIMEOUT');
    expect(hung.err.op).toBe('open');
    expect(performance.now() - start).toBeLessThan(IO_TIMEOUT_MS + TIMEOUT_SLACK_MS);
    fuse.resume();
  });
});
