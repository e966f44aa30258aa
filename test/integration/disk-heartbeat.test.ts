// Disk heartbeats on real loop devices (512 B and 4 KiB sectors): the writer's sequence
// advances, a stopped writer is judged dead after keep-alive by the reader's own
// monotonic clock, a corrupted slot is reported and never trusted, writes never overlap.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HeartbeatPayload } from '../../src/core/types.js';
import { YcsError } from '../../src/errors.js';
import { SectorDevice } from '../../src/disk/device.js';
import { HeartbeatReader, HeartbeatWriter } from '../../src/disk/heartbeat.js';
import { encodeHeartbeatSlot, slotOffset } from '../../src/disk/layout.js';
import { VotingDisk, initVotingDisk } from '../../src/disk/voting-disk.js';
import { createLoop, detachAll, scratchDir, type LoopDevice } from '../helpers/loop.js';

const MIB = 1024 * 1024;
const INTERVAL_MS = 40;
const KEEP_ALIVE_MS = 250;

const payload = (epoch: number): HeartbeatPayload => ({
  role: 'standby', epoch, masterId: 2, heard: [1, 2, 3], resources: [{ state: 'standby' }], flags: 0,
});

let scratch: { dir: string; remove(): void };
const loops = new Map<number, LoopDevice>();
const open: Array<{ close(): Promise<void> }> = [];
const writers: HeartbeatWriter[] = [];

beforeAll(() => {
  scratch = scratchDir('ycs-disk-hb-');
  loops.set(512, createLoop(scratch.dir, 4 * MIB, 512));
  loops.set(4096, createLoop(scratch.dir, 4 * MIB, 4096));
});

afterEach(async () => {
  await Promise.all(writers.splice(0).map((w) => w.stop()));
  await Promise.all(open.splice(0).map((d) => d.close()));
});

afterAll(() => {
  detachAll();
  scratch?.remove();
});

async function freshDisk(sector: number): Promise<string> {
  const device = loops.get(sector)!.device;
  await initVotingDisk(device, { clusterName: 'hb-test', hostSlots: 4, force: true });
  return device;
}

async function openDisk(device: string, readOnly = false): Promise<VotingDisk> {
  const disk = await VotingDisk.open(device, { readOnly });
  open.push(disk);
  return disk;
}

function startWriter(disk: VotingDisk, hostId: number, extra: Partial<ConstructorParameters<typeof HeartbeatWriter>[0]> = {}): HeartbeatWriter {
  const writer = new HeartbeatWriter({ disk, hostId, intervalMs: INTERVAL_MS, payload: () => payload(7), ...extra });
  writers.push(writer);
  return writer;
}

describe.each([512, 4096])('disk heartbeats on a %i-byte-sector loop device', (sector) => {
  it('advances the sequence, and a stopped writer is dead after keep-alive', async () => {
    const device = await freshDisk(sector);
    const writer = startWriter(await openDisk(device), 1);
    expect(await writer.start()).toBe(1);
    const reader = new HeartbeatReader(await openDisk(device, true));

    const sequences: number[] = [];
    for (let i = 0; i < 5; i++) {
      const host1 = (await reader.read())[0]!;
      expect(host1.verdict).toBe('ok');
      expect(host1.record!.payload).toEqual(payload(7));
      expect(host1.record!.incarnation).toBe(1);
      sequences.push(host1.record!.sequence);
      await sleep(INTERVAL_MS * 1.5);
    }
    expect(sequences.every((s, i) => i === 0 || s > sequences[i - 1]!)).toBe(true);
    expect(reader.isAlive(1, performance.now(), KEEP_ALIVE_MS)).toBe(true);
    expect(reader.isAlive(2, performance.now(), KEEP_ALIVE_MS)).toBe(false); // never written

    await writer.stop();
    const stoppedAt = performance.now();
    const lastSequence = writer.sequence;
    while (performance.now() - stoppedAt < KEEP_ALIVE_MS + 100) {
      const host1 = (await reader.read())[0]!;
      expect(host1.record!.sequence).toBe(lastSequence);
      await sleep(INTERVAL_MS);
    }
    expect(reader.isAlive(1, performance.now(), KEEP_ALIVE_MS)).toBe(false);

    // A restarted daemon takes the next incarnation, or the caller's floor if higher.
    const again = startWriter(await openDisk(device), 1);
    expect(await again.start()).toBe(2);
    await again.stop();
    const floored = startWriter(await openDisk(device), 1, { incarnationFloor: 10 });
    expect(await floored.start()).toBe(10);
    const seen = (await reader.read())[0]!;
    expect(seen.record).toMatchObject({ incarnation: 10, sequence: 1 });
    expect(reader.isAlive(1, performance.now(), KEEP_ALIVE_MS)).toBe(true);
  });

  it('reports a corrupted slot and does not trust it', async () => {
    const device = await freshDisk(sector);
    const writerDisk = await openDisk(device);
    const writer = startWriter(writerDisk, 2);
    await writer.start();
    const reader = new HeartbeatReader(await openDisk(device, true));
    await sleep(INTERVAL_MS * 2);
    const before = (await reader.read())[1]!;
    expect(before.verdict).toBe('ok');
    await writer.stop();

    const raw = await SectorDevice.open(device);
    open.push(raw);
    const offset = slotOffset(writerDisk.header, 'heartbeat', 2);
    await raw.write(offset, randomBytes(sector));
    const garbage = (await reader.read())[1]!;
    expect(garbage.verdict).toBe('corrupt');
    expect(garbage.record).toEqual(before.record); // the last trusted record, not the garbage
    expect(garbage.changedAtMs).toBe(before.changedAtMs);

    // A record with a newer sequence but one flipped byte (a torn or damaged write).
    const newer = encodeHeartbeatSlot({ ...before.record!, sequence: before.record!.sequence + 1 }, writerDisk.header.clusterUuid, sector);
    newer[100]! ^= 0x10;
    await raw.write(offset, newer);
    const flipped = (await reader.read())[1]!;
    expect(flipped.verdict).toBe('crc-mismatch');
    expect(flipped.record!.sequence).toBe(before.record!.sequence);
    expect(flipped.changedAtMs).toBe(before.changedAtMs);
    expect(reader.isAlive(2, before.changedAtMs! + KEEP_ALIVE_MS + 1, KEEP_ALIVE_MS)).toBe(false);

    // Host 3's record copied into host 2's slot is misplaced, another cluster's is foreign.
    await raw.write(offset, encodeHeartbeatSlot({ ...before.record!, hostId: 3 }, writerDisk.header.clusterUuid, sector));
    expect((await reader.read())[1]!.verdict).toBe('misplaced');
    await raw.write(offset, encodeHeartbeatSlot({ ...before.record!, sequence: 999 }, '11111111-2222-4333-8444-555555555555', sector));
    const foreign = (await reader.read())[1]!;
    expect(foreign.verdict).toBe('foreign');
    expect(foreign.record!.sequence).toBe(before.record!.sequence);
  });
});

describe('heartbeat writer scheduling and errors', () => {
  it('never has two writes in flight, even when writes outlast the interval', async () => {
    const device = await freshDisk(512);
    const disk = await openDisk(device);
    const write = disk.writeHeartbeat.bind(disk);
    let active = 0;
    let maxActive = 0;
    let writes = 0;
    disk.writeHeartbeat = async (record, io) => {
      active++;
      maxActive = Math.max(maxActive, active);
      try {
        await write(record, io);
        await sleep(5); // every write now takes longer than the 1 ms interval
        writes++;
      } finally {
        active--;
      }
    };
    const errors: YcsError[] = [];
    const writer = startWriter(disk, 1, { intervalMs: 1, writeTimeoutMs: 2000, onError: (e) => errors.push(e) });
    await writer.start();
    await sleep(150);
    await writer.stop();
    expect(errors).toEqual([]);
    expect(maxActive).toBe(1);
    expect(writes).toBeGreaterThan(5);
    expect(writes).toBeLessThan(150 / 5 + 2);
    expect(writer.sequence).toBe(writes);
  });

  it('reports write failures and keeps trying at the next interval', async () => {
    const device = await freshDisk(512);
    const disk = await VotingDisk.open(device);
    const errors: YcsError[] = [];
    const written: number[] = [];
    const writer = startWriter(disk, 1, { onError: (e) => errors.push(e), onWritten: (r) => written.push(r.sequence) });
    await writer.start();
    await disk.close(); // every later write now fails at the device
    await sleep(INTERVAL_MS * 4);
    await writer.stop();
    expect(written[0]).toBe(1);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.every((e) => e instanceof YcsError && e.code === 'E_CLOSED')).toBe(true);
    expect(writer.sequence).toBe(written.length + errors.length);
  });

  it('refuses to start when the first heartbeat cannot be written', async () => {
    const device = await freshDisk(512);
    const writer = startWriter(await openDisk(device, true), 1);
    await expect(writer.start()).rejects.toMatchObject({ code: 'E_READ_ONLY' });
  });
});
