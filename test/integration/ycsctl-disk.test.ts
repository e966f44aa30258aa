// `ycsctl disk` through the real CLI process on real loop devices (512 B and 4 KiB
// sectors), a read-only loop device and regular files. Refusals must print one line
// `CODE: message`, exit non-zero and leave every byte of the disk unchanged.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt, expectOneLineError, ycsctlSync, type CliRun } from '../helpers/cli.js';
import { createLoop, detachAll, scratchDir, sparseFile, type LoopDevice } from '../helpers/loop.js';
import { SectorDevice } from '../../src/disk/device.js';
import { slotOffset } from '../../src/disk/layout.js';
import { VotingDisk } from '../../src/disk/voting-disk.js';

const MIB = 1024 * 1024;

const ycsctl = (...args: string[]): CliRun => ycsctlSync(args);

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let scratch: { dir: string; remove(): void };
let loop512: LoopDevice;
let loop4096: LoopDevice;

beforeAll(() => {
  ensureBuilt();
  scratch = scratchDir('ycs-ycsctl-disk-');
  loop512 = createLoop(scratch.dir, 8 * MIB, 512);
  loop4096 = createLoop(scratch.dir, 8 * MIB, 4096);
});

afterAll(() => {
  detachAll();
  scratch?.remove();
});

describe('ycsctl disk init / show / wipe', () => {
  it.each([512, 4096] as const)('round-trips on a loop device with %i-byte sectors', (sector) => {
    const loop = sector === 512 ? loop512 : loop4096;
    const t = { device: loop.device, backing: loop.backingFile, sector };
    const init = ycsctl('disk', 'init', t.device, '--cluster', 'prod-db', '--hosts', '16', '--json');
    expect(init.code, init.stderr).toBe(0);
    const created = JSON.parse(init.stdout) as { header: Record<string, unknown> };
    expect(created.header).toMatchObject({ clusterName: 'prod-db', hostSlots: 16, sectorSize: t.sector, diskIndex: 1, diskCount: 1, version: 1 });

    const show = ycsctl('disk', 'show', t.device, '--json');
    expect(show.code, show.stderr).toBe(0);
    const shown = JSON.parse(show.stdout) as { header: unknown; device: Record<string, unknown>; heartbeats: unknown[]; votes: unknown[] };
    expect(shown.header).toEqual(created.header);
    expect(shown.device).toMatchObject({ path: t.device, kind: 'block', logicalSectorSize: t.sector, sizeBytes: 8 * MIB, ioEngine: 'io_uring' });
    expect(shown.heartbeats).toEqual([]);
    expect(shown.votes).toEqual([]);

    const all = JSON.parse(ycsctl('disk', 'show', t.device, '--json', '--all').stdout) as { heartbeats: Array<{ host: number; check: string }> };
    expect(all.heartbeats).toHaveLength(16);
    expect(all.heartbeats.every((s, n) => s.check === 'empty' && s.host === n + 1)).toBe(true);

    const table = ycsctl('disk', 'show', t.device);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('prod-db');
    expect(table.stdout).toContain('I/O through io_uring');
    expect(table.stdout).toContain('Heartbeat slots');

    const wipe = ycsctl('disk', 'wipe', t.device, '--yes');
    expect(wipe.code, wipe.stderr).toBe(0);
    expectOneLineError(ycsctl('disk', 'show', t.device), 'E_NOT_INITIALIZED');
    expect(readFileSync(t.backing).subarray(0, 4 * MIB).every((b) => b === 0)).toBe(true);
  });

  it('works on a regular file, created sparse with --size, and refuses to re-init it', () => {
    const file = join(scratch.dir, 'voting.img');
    const init = ycsctl('disk', 'init', file, '--cluster', 'demo', '--hosts', '3', '--size', '4M', '--json');
    expect(init.code, init.stderr).toBe(0);
    expect(init.stderr).toBe(''); // no progress line when stderr is not a terminal
    expect(statSync(file).size).toBe(4 * MIB);
    const uuid = (JSON.parse(init.stdout) as { header: { clusterUuid: string } }).header.clusterUuid;

    const before = sha256(file);
    const again = expectOneLineError(ycsctl('disk', 'init', file, '--cluster', 'other', '--hosts', '3'), 'E_ALREADY_INITIALIZED');
    expect(again).toContain("'demo'");
    expect(again).toContain(uuid);
    expect(sha256(file)).toBe(before);

    const forced = ycsctl('disk', 'init', file, '--cluster', 'other', '--hosts', '5', '--force', '--json');
    expect(forced.code, forced.stderr).toBe(0);
    const header = (JSON.parse(ycsctl('disk', 'show', file, '--json').stdout) as { header: { clusterName: string; clusterUuid: string; hostSlots: number } }).header;
    expect(header).toMatchObject({ clusterName: 'other', hostSlots: 5 });
    expect(header.clusterUuid).not.toBe(uuid);
  });

  it('shows progress on a terminal and clears it before the result', () => {
    const file = join(scratch.dir, 'tty.img');
    // script(1) gives ycsctl a pseudo-terminal; its output is the terminal's.
    const command = `${process.execPath} ${join(ROOT, 'dist/src/cli/main.js')} disk init ${file} --cluster tty --hosts 3 --size 64M`;
    const out = execFileSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    expect(out).toMatch(new RegExp(`\\r\\x1b\\[Kzeroing ${file}: \\d+\\.\\d of 4\\.0 MiB \\(\\d+%\\)`));
    expect(out).toMatch(/\r\x1b\[Kinitialized /); // the line is cleared, then the result
    const wipe = execFileSync('script', ['-qec', `${process.execPath} ${join(ROOT, 'dist/src/cli/main.js')} disk wipe ${file} --yes`, '/dev/null'], { encoding: 'utf8' });
    expect(wipe).toMatch(/zeroing .*: \d+\.\d of 4\.0 MiB/);
    expect(wipe).toContain('wiped ');
  });

  it('joins a second disk to a cluster with --uuid and --disk-index', () => {
    const first = join(scratch.dir, 'd1.img');
    const second = join(scratch.dir, 'd2.img');
    const one = JSON.parse(ycsctl('disk', 'init', first, '--cluster', 'c3', '--hosts', '4', '--disk-count', '3', '--size', '4M', '--json').stdout) as { header: { clusterUuid: string } };
    expectOneLineError(ycsctl('disk', 'init', second, '--cluster', 'c3', '--hosts', '4', '--disk-count', '3', '--disk-index', '2', '--size', '4M'), 'E_USAGE', 2);
    expect(existsSync(second)).toBe(false);
    const two = ycsctl('disk', 'init', second, '--cluster', 'c3', '--hosts', '4', '--disk-count', '3', '--disk-index', '2', '--uuid', one.header.clusterUuid, '--size', '4M', '--json');
    expect(two.code, two.stderr).toBe(0);
    expect(JSON.parse(two.stdout)).toMatchObject({ header: { clusterUuid: one.header.clusterUuid, diskIndex: 2, diskCount: 3 } });
  });
});

describe('ycsctl disk show with written slots', () => {
  it('lists ok slots with their contents and damaged slots with their verdict only', async () => {
    const t = loop4096;
    expect(ycsctl('disk', 'init', t.device, '--cluster', 'live', '--hosts', '4', '--force').code).toBe(0);
    const disk = await VotingDisk.open(t.device);
    const raw = await SectorDevice.open(t.device);
    try {
      await disk.writeHeartbeat({ hostId: 1, incarnation: 3, sequence: 17, payload: { role: 'master', epoch: 5, masterId: 1, heard: [1, 2], resources: [{ state: 'primary' }], flags: 0 } });
      const block = { instance: 5, mbal: 258, bal: 0, value: null, decided: null };
      await disk.writeVote({ hostId: 2, incarnation: 1, sequence: 2, payload: block }); // copy A
      await disk.writeVote({ hostId: 2, incarnation: 1, sequence: 3, payload: { ...block, bal: 258, value: { epoch: 5, masterId: 1, members: [1, 2] } } }); // copy B
      const damaged = Buffer.alloc(4096, 0x5a);
      damaged.write('YCHB', 0, 'ascii');
      await raw.write(slotOffset(disk.header, 'heartbeat', 3), damaged);
      damaged.write('YCVT', 0, 'ascii');
      await raw.write(slotOffset(disk.header, 'vote', 4, 0), damaged); // host 4: copy A torn, copy B empty
    } finally {
      await raw.close();
      await disk.close();
    }
    const shown = JSON.parse(ycsctl('disk', 'show', t.device, '--json').stdout) as { heartbeats: unknown[]; votes: unknown[] };
    expect(shown.heartbeats).toEqual([
      { host: 1, check: 'ok', incarnation: 3, sequence: 17, role: 'master', epoch: 5, masterId: 1, heard: [1, 2], resources: [{ state: 'primary' }], flags: 0 },
      { host: 3, check: 'crc-mismatch', incarnation: null, sequence: null },
    ]);
    expect(shown.votes).toEqual([
      { host: 2, check: 'ok', copy: 'B', incarnation: 1, sequence: 3, instance: 5, mbal: 258, bal: 258, value: { epoch: 5, masterId: 1, members: [1, 2] }, decided: null },
      { host: 4, check: 'crc-mismatch', copy: null, incarnation: null, sequence: null },
    ]);
    const table = ycsctl('disk', 'show', t.device).stdout;
    expect(table).toMatch(/^1\s+ok\s+3\s+17\s+master\s+5\s+1\s+1,2\s+primary$/m);
    expect(table).toMatch(/^3\s+crc-mismatch\s+-\s+-/m);
    expect(table).toMatch(/^2\s+ok\s+B\s+1\s+3\s+5\s+258\s+258\s+e5 m1 \[1,2\]\s+-$/m);
    // --all: every slot, and both copies' verdicts (host 4: one torn copy beside an empty one).
    const all = JSON.parse(ycsctl('disk', 'show', t.device, '--all', '--json').stdout) as { votes: Array<{ host: number; check: string; copies: string[] }> };
    expect(all.votes.map((v) => [v.host, v.check, v.copies.join('/')])).toEqual([
      [1, 'empty', 'empty/empty'], [2, 'ok', 'ok/ok'], [3, 'empty', 'empty/empty'], [4, 'crc-mismatch', 'crc-mismatch/empty'],
    ]);
    expect(ycsctl('disk', 'show', t.device, '--all').stdout).toMatch(/^4\s+crc-mismatch\s+-\s+crc-mismatch\/empty\s+-/m);
  });
});

describe('ycsctl disk refusals leave the disk unchanged', () => {
  it('refuses a device that is too small, naming the minimum', () => {
    const file = sparseFile(join(scratch.dir, 'small.img'), 2 * MIB);
    const before = sha256(file);
    const line = expectOneLineError(ycsctl('disk', 'init', file, '--cluster', 'c', '--hosts', '8'), 'E_DEVICE_TOO_SMALL');
    expect(line).toContain(String(2 * MIB + 8 * 2 * 512)); // 8 hosts x 2 vote copies
    expect(sha256(file)).toBe(before);
    expectOneLineError(ycsctl('disk', 'init', join(scratch.dir, 'tiny.img'), '--cluster', 'c', '--hosts', '8', '--size', '1M'), 'E_DEVICE_TOO_SMALL');
    expect(existsSync(join(scratch.dir, 'tiny.img'))).toBe(false);
  });

  it('refuses a read-only loop device', () => {
    const file = sparseFile(join(scratch.dir, 'ro.img'), 4 * MIB);
    const device = execFileSync('losetup', ['-f', '--show', '-r', file], { encoding: 'utf8' }).trim();
    try {
      const before = sha256(file);
      expectOneLineError(ycsctl('disk', 'init', device, '--cluster', 'c', '--hosts', '2'), 'E_READ_ONLY');
      expectOneLineError(ycsctl('disk', 'wipe', device, '--yes'), 'E_READ_ONLY');
      expect(sha256(file)).toBe(before);
    } finally {
      execFileSync('losetup', ['-d', device]);
    }
  });

  it('refuses a missing device, and data that is not a ycs disk', () => {
    expectOneLineError(ycsctl('disk', 'init', join(scratch.dir, 'nope.img'), '--cluster', 'c', '--hosts', '2'), 'E_NOT_FOUND');
    expectOneLineError(ycsctl('disk', 'show', join(scratch.dir, 'nope.img')), 'E_NOT_FOUND');
    const file = sparseFile(join(scratch.dir, 'fs.img'), 4 * MIB);
    writeFileSync(file, Buffer.from('an ext4 superblock, say'), { flag: 'r+' });
    const before = sha256(file);
    expectOneLineError(ycsctl('disk', 'init', file, '--cluster', 'c', '--hosts', '2'), 'E_REFUSED');
    expectOneLineError(ycsctl('disk', 'wipe', file, '--yes'), 'E_REFUSED');
    expectOneLineError(ycsctl('disk', 'show', file), 'E_CORRUPT');
    expect(sha256(file)).toBe(before);
  });

  it('rejects bad arguments with E_USAGE (exit 2) or E_INVALID_ARGUMENT (exit 1), writing nothing', () => {
    const file = sparseFile(join(scratch.dir, 'args.img'), 4 * MIB);
    const init = ['disk', 'init', file, '--cluster', 'c'];
    const before = sha256(file);
    expectOneLineError(ycsctl(...init, '--hosts', '300'), 'E_INVALID_ARGUMENT');
    expectOneLineError(ycsctl(...init, '--hosts', '0'), 'E_INVALID_ARGUMENT');
    expectOneLineError(ycsctl('disk', 'init', file, '--cluster', 'x'.repeat(64), '--hosts', '2'), 'E_INVALID_ARGUMENT');
    expectOneLineError(ycsctl(...init, '--hosts', '2', '--disk-count', '2'), 'E_INVALID_ARGUMENT');
    expectOneLineError(ycsctl(...init, '--hosts', 'two'), 'E_USAGE', 2);
    expectOneLineError(ycsctl(...init), 'E_USAGE', 2);
    expectOneLineError(ycsctl(...init, '--hosts', '2', '--bogus'), 'E_USAGE', 2);
    expectOneLineError(ycsctl('disk', 'wipe', file), 'E_USAGE', 2);
    expectOneLineError(ycsctl('disk', 'frobnicate', file), 'E_USAGE', 2);
    expectOneLineError(ycsctl('nosuchgroup'), 'E_USAGE', 2);
    expectOneLineError(ycsctl(...init, '--hosts', '2', '--uuid', 'not-a-uuid'), 'E_INVALID_ARGUMENT');
    expect(sha256(file)).toBe(before);
  });

  it('answers --help and --version', () => {
    for (const args of [['--help'], ['disk', '--help'], ['disk', 'init', '-h']]) {
      const run = ycsctl(...args);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/Usage: ycsctl/);
    }
    const version = ycsctl('--version');
    expect(version.stdout.trim()).toBe(`ycsctl ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}`);
  });
});
