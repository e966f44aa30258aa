// VotingDisk over real devices: one-I/O area reads, slot writes, header checks against
// the device (sector size, size, cluster UUID), and init's zeroing of stale slots.
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SlotRecord, VotePayload } from '../../src/core/types.js';
import { SectorDevice } from '../../src/disk/device.js';
import { VotingDisk, initVotingDisk, inspectVotingDisk, wipeVotingDisk } from '../../src/disk/voting-disk.js';
import { slotOffset } from '../../src/disk/layout.js';
import { nextIncarnation } from '../../src/daemon/disk-shell.js';
import { attachLoop, createLoop, detachAll, scratchDir, sparseFile } from '../helpers/loop.js';

const MIB = 1024 * 1024;
let scratch: { dir: string; remove(): void };
const open: Array<{ close(): Promise<void> }> = [];

beforeAll(() => {
  scratch = scratchDir('ycs-disk-voting-');
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

afterAll(() => {
  detachAll();
  scratch?.remove();
});

async function openDisk(path: string, options: Parameters<typeof VotingDisk.open>[1] = {}): Promise<VotingDisk> {
  const disk = await VotingDisk.open(path, options);
  open.push(disk);
  return disk;
}

const vote = (hostId: number, sequence: number): SlotRecord<VotePayload> => ({
  hostId, incarnation: 4, sequence,
  payload: { instance: 9, mbal: 2 * 256 + hostId, bal: 256 + 1, value: { epoch: 9, masterId: 1, members: [1, hostId] }, decided: { epoch: 8, masterId: 1, members: [1, 2, 3] } },
});

describe('VotingDisk', () => {
  it.each([512, 4096] as const)('writes slots and reads each area in one I/O (%i-byte sectors)', async (sector) => {
    const loop = createLoop(scratch.dir, 4 * MIB, sector);
    const header = await initVotingDisk(loop.device, { clusterName: 'votes', hostSlots: 5 });
    const writer = await openDisk(loop.device);
    expect(writer.header).toEqual(header);
    await writer.writeVote(vote(3, 1));
    await writer.writeVote(vote(5, 2));
    await writer.writeHeartbeat({ hostId: 5, incarnation: 4, sequence: 6, payload: { role: 'master', epoch: 8, masterId: 5, heard: [], resources: [], flags: 1 } });

    const reader = await openDisk(loop.device, { readOnly: true, expectedClusterUuid: header.clusterUuid.toUpperCase() });
    const votes = await reader.readVotes();
    expect(votes.map((v) => v.verdict)).toEqual(['empty', 'empty', 'ok', 'empty', 'ok']);
    expect(votes[2]!.record).toEqual(vote(3, 1));
    expect(votes[4]!.record).toEqual(vote(5, 2));
    expect((await reader.readHeartbeats()).map((h) => h.verdict)).toEqual(['empty', 'empty', 'empty', 'empty', 'ok']);
    const own = await reader.readOwnSlots(5);
    expect(own.vote.record).toEqual(vote(5, 2));
    expect(own.heartbeat.record?.payload.role).toBe('master');
    await expect(reader.writeVote(vote(1, 1))).rejects.toMatchObject({ code: 'E_READ_ONLY' });

    const inspection = await inspectVotingDisk(loop.device);
    expect(inspection.header).toEqual(header);
    expect(inspection.votes.filter((v) => v.verdict === 'ok')).toHaveLength(2);
  });

  it('reuses its area buffer without letting one read\'s results change under the next', async () => {
    const loop = createLoop(scratch.dir, 4 * MIB, 512);
    await initVotingDisk(loop.device, { clusterName: 'reuse', hostSlots: 3 });
    const disk = await openDisk(loop.device);
    const beat = (sequence: number) => ({ hostId: 2, incarnation: 1, sequence, payload: { role: 'standby' as const, epoch: 3, masterId: 1, heard: [1], resources: [], flags: 0 } });
    await disk.writeHeartbeat(beat(1));
    const first = await disk.readHeartbeats();
    await disk.writeHeartbeat(beat(2));
    const second = await disk.readHeartbeats();
    expect(first[1]!.record?.sequence).toBe(1); // decoded values are copies, not views of the buffer
    expect(second[1]!.record?.sequence).toBe(2);
    // Reads in flight together each get their own buffer.
    await disk.writeHeartbeat(beat(3));
    const together = await Promise.all([disk.readHeartbeats(), disk.readHeartbeats(), disk.readVotes()]);
    expect(together[0][1]!.record?.sequence).toBe(3);
    expect(together[1][1]!.record?.sequence).toBe(3);
    expect(together[2].map((v) => v.verdict)).toEqual(['empty', 'empty', 'empty']);
  });

  it('refuses another cluster\'s disk, a wrong sector size and a truncated copy', async () => {
    const file = sparseFile(join(scratch.dir, 'disk.img'), 4 * MIB);
    const header = await initVotingDisk(file, { clusterName: 'mine', hostSlots: 4 });
    await expect(VotingDisk.open(file, { expectedClusterUuid: '12345678-1234-4234-8234-123456789abc' })).rejects.toMatchObject({ code: 'E_FOREIGN_CLUSTER' });

    const loop4k = attachLoop(file, 4096); // the same bytes seen with 4 KiB sectors
    await expect(VotingDisk.open(loop4k.device)).rejects.toMatchObject({ code: 'E_CORRUPT', message: expect.stringContaining('512-byte sectors') });
    loop4k.detach();

    truncateSync(file, header.voteAreaOffset + 512); // the header asks for 4 vote slots
    await expect(VotingDisk.open(file)).rejects.toMatchObject({ code: 'E_CORRUPT', message: expect.stringContaining('truncated') });
  });

  it('init --force zeroes stale slots of the previous cluster; wipe zeroes everything', async () => {
    const file = sparseFile(join(scratch.dir, 'reuse.img'), 4 * MIB);
    await initVotingDisk(file, { clusterName: 'old', hostSlots: 8 });
    const old = await openDisk(file);
    await old.writeVote(vote(2, 1));
    await old.close();
    await expect(initVotingDisk(file, { clusterName: 'new', hostSlots: 8 })).rejects.toMatchObject({ code: 'E_ALREADY_INITIALIZED' });
    await initVotingDisk(file, { clusterName: 'new', hostSlots: 8, force: true });
    const fresh = await inspectVotingDisk(file);
    expect(fresh.header.clusterName).toBe('new');
    expect(fresh.votes.every((v) => v.verdict === 'empty')).toBe(true);

    const { bytesZeroed } = await wipeVotingDisk(file);
    expect(bytesZeroed).toBe(4 * MIB);
    const raw = await SectorDevice.open(file, { readOnly: true });
    open.push(raw);
    expect((await raw.read(0, 4 * MIB)).every((b) => b === 0)).toBe(true);
    await expect(inspectVotingDisk(file)).rejects.toMatchObject({ code: 'E_NOT_INITIALIZED' });
  });

  it('refuses to join disk 2 with a malformed UUID and a device too small before writing', async () => {
    const file = sparseFile(join(scratch.dir, 'small.img'), 2 * MIB + 4 * 2 * 512); // 4 hosts x 2 vote copies
    await expect(initVotingDisk(file, { clusterName: 'x', hostSlots: 5 })).rejects.toMatchObject({ code: 'E_DEVICE_TOO_SMALL' });
    await expect(initVotingDisk(file, { clusterName: 'x', hostSlots: 4, diskIndex: 2, diskCount: 3, clusterUuid: 'zz' })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    const header = await initVotingDisk(file, { clusterName: 'x', hostSlots: 4 }); // exactly the minimum fits
    expect(header.hostSlots).toBe(4);
  });

  it.each([512, 4096] as const)('writes vote copies A and B alternately; a torn write falls back to the durable copy (%i-byte sectors)', async (sector) => {
    const loop = createLoop(scratch.dir, 4 * MIB, sector);
    const header = await initVotingDisk(loop.device, { clusterName: 'ab', hostSlots: 3 });
    const disk = await openDisk(loop.device);
    const copies = async () => (await disk.readVoteCopies())[1]!.map((c) => `${c.verdict}${c.record ? `:${c.record.sequence}` : ''}`);
    await disk.writeVote(vote(2, 1));
    await disk.writeVote(vote(2, 2));
    await disk.writeVote(vote(2, 3));
    expect(await copies()).toEqual(['ok:3', 'ok:2']);

    // The device fails during write 4: half the sector lands (a torn write) and the write fails.
    const write = disk.device.write.bind(disk.device);
    let targetOffset = -1;
    disk.device.write = async (offset, data, io) => {
      targetOffset = offset;
      const torn = Buffer.from(data);
      torn.fill(0x5a, 256, 512);
      await write(offset, torn, io);
      throw new Error('device failed mid-write');
    };
    await expect(disk.writeVote(vote(2, 4))).rejects.toThrow('device failed');
    expect(targetOffset).toBe(header.voteAreaOffset + 3 * sector); // copy B: never copy A, the durable one
    expect(await copies()).toEqual(['ok:3', 'crc-mismatch']);
    expect((await disk.readVotes())[1]!.record).toEqual(vote(2, 3));
    expect((await disk.readOwnSlots(2)).vote.record).toEqual(vote(2, 3));
    // A second torn write goes to the same copy again: copy A still holds sequence 3.
    await expect(disk.writeVote(vote(2, 5))).rejects.toThrow('device failed');
    expect(targetOffset).toBe(header.voteAreaOffset + 3 * sector);
    expect(await copies()).toEqual(['ok:3', 'crc-mismatch']);
    disk.device.write = write;

    // A new process learns the target from the disk: it protects copy A as well.
    const restarted = await openDisk(loop.device);
    await restarted.writeVote({ ...vote(2, 1), incarnation: 5 });
    expect(await copies()).toEqual(['ok:3', 'ok:1']);
    expect((await restarted.readVotes())[1]!.record?.incarnation).toBe(5);
    await restarted.writeVote({ ...vote(2, 2), incarnation: 5 });
    expect(await copies()).toEqual(['ok:2', 'ok:1']);

    const shown = await inspectVotingDisk(loop.device);
    expect(shown.voteCopies[1]!.map((c) => c.verdict)).toEqual(['ok', 'ok']);
    expect(shown.votes[1]!.record).toMatchObject({ incarnation: 5, sequence: 2 });
  });

  it('a torn heartbeat and a torn vote copy never make the incarnation go back (vote copies and the persisted floor count)', async () => {
    const file = sparseFile(join(scratch.dir, 'inc.img'), 4 * MIB);
    await initVotingDisk(file, { clusterName: 'inc', hostSlots: 2 });
    const disk = await openDisk(file);
    await disk.writeVote({ ...vote(1, 1), incarnation: 4 }); // copy A
    await disk.writeVote({ ...vote(1, 1), incarnation: 5 }); // copy B
    await disk.writeHeartbeat({ hostId: 1, incarnation: 5, sequence: 9, payload: { role: 'standby', epoch: 3, masterId: 2, heard: [], resources: [], flags: 0 } });
    const raw = await SectorDevice.open(file);
    open.push(raw);
    const garbage = Buffer.alloc(512, 0x5a);
    await raw.write(slotOffset(disk.header, 'heartbeat', 1), garbage);
    expect((await disk.readOwnSlots(1)).vote.record?.incarnation).toBe(5); // copy B still counts
    const floorPath = join(scratch.dir, 'host1.incarnation');
    expect(await nextIncarnation([disk], 1, floorPath)).toBe(6);
    // Copy B torn too (a second failure): the disk alone now shows incarnation 4 at most,
    // the floor the daemon persisted before using 6 keeps the next run above it.
    await raw.write(slotOffset(disk.header, 'vote', 1, 1), garbage);
    expect((await disk.readOwnSlots(1)).vote.record?.incarnation).toBe(4);
    expect(await nextIncarnation([disk], 1, floorPath)).toBe(7);
    writeFileSync(floorPath, '0\n');
    expect(await nextIncarnation([disk], 1, floorPath)).toBe(5); // without the floor: the disk's word only
  });
});
