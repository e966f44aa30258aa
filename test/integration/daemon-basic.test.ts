// The ycs daemon as real processes: three hosts on 127.0.0.1, each its own ycsm -> ycs ->
// demo database, sharing a file-backed voting disk (src/demo/cluster.ts). Runs the
// compiled files: `npm run build` first (npm test does).
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusResult } from '../../src/cli/status.js';
import { callDaemon } from '../../src/control/client.js';
import { decodeHeader, slotOffset } from '../../src/disk/layout.js';
import { REPO_ROOT, agreedMaster, startLocalCluster, ycsPidsFromLog, type LocalCluster } from '../../src/demo/cluster.js';
import { scratchDir } from '../helpers/loop.js';

const ycsMain = join(REPO_ROOT, 'dist/src/daemon/main.js');
const ycsctlMain = join(REPO_ROOT, 'dist/src/cli/main.js');

let scratch: { dir: string; remove(): void };
let cluster: LocalCluster | undefined;
let master: number;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends raw lines on a fresh control connection and collects the response lines. */
function rawControl(socketPath: string, payload: string | Buffer, expectLines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no ${expectLines} answers in time; got ${JSON.stringify(text)}`));
    }, 5000);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk: string) => {
      text += chunk;
      const lines = text.split('\n').filter(Boolean);
      if (lines.length >= expectLines) {
        clearTimeout(timer);
        socket.destroy();
        resolve(lines);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function hostConfig(hostId: number): Record<string, unknown> {
  return JSON.parse(readFileSync(cluster?.host(hostId).configPath ?? '', 'utf8')) as Record<string, unknown>;
}

beforeAll(async () => {
  for (const file of [ycsMain, ycsctlMain]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  }
  scratch = scratchDir('ycs-daemon-');
  // Timeouts above the defaults: other test files may load the machine at the same time.
  cluster = await startLocalCluster({ dir: scratch.dir, hosts: 3, resources: ['YasDB'], timeouts: { DISK_HB_KEEP_ALIVE: 3000, NETWORK_HB_TIMEOUT: 3000 } });
  master = await cluster.waitFor((s) => agreedMaster(s), 30_000, 'an agreed master');
}, 60_000);

afterAll(async () => {
  const pids = cluster?.hosts.flatMap((h) => ycsPidsFromLog(h.logPath)) ?? [];
  try {
    await cluster?.stop();
    // Nothing the cluster started may outlive it.
    expect(pids.filter(alive)).toEqual([]);
    expect(cluster?.hosts.map((h) => cluster?.dbPid(h.id)).filter((p) => p !== undefined)).toEqual([]);
  } finally {
    scratch?.remove();
  }
}, 60_000);

describe('a three-host local cluster', () => {
  it('elects exactly one master and every host agrees on it', async () => {
    // Watch for a while: never two hosts calling themselves master.
    for (let i = 0; i < 10; i++) {
      const statuses = [...(await cluster!.statuses()).values()] as StatusResult[];
      expect(statuses.every((s) => typeof s.selfId === 'number')).toBe(true);
      expect(statuses.filter((s) => s.role === 'master').map((s) => s.selfId)).toEqual([master]);
      expect(new Set(statuses.map((s) => s.masterId))).toEqual(new Set([master]));
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('ycsctl status over the control socket shows the master in the seed\'s tables', async () => {
    const other = master === 1 ? 2 : 1;
    await cluster!.waitFor((s) => (s.get(other) as StatusResult).resourceMasters?.[0] === master, 15_000, 'the database primary');
    const run = spawnSync(process.execPath, [ycsctlMain, 'status', '--socket', cluster!.host(other).socketPath], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[1]).toBe('Self Host ID|Cluster Master ID|YasDB Master ID|Active Host Count');
    expect(lines[3]?.trim().split(/\s+/)).toEqual([String(other), String(master), String(master), '3']);
    expect(lines.filter((l) => /^[123] {10}online {5}online {5}online/.test(l))).toHaveLength(3);
  });

  it('answers malformed control requests with errors and keeps serving', async () => {
    const socketPath = cluster!.host(master).socketPath;
    const answers = await rawControl(socketPath, 'not json\n{"id":7,"command":"no-such"}\n[1,2]\n{"id":8,"command":"status","args":[]}\n', 4);
    const parsed = answers.map((a) => JSON.parse(a) as { id: unknown; ok: boolean; error?: { code: string } });
    expect(parsed.map((p) => [p.id, p.ok, p.error?.code])).toEqual([
      [null, false, 'E_PROTOCOL'],
      [7, false, 'E_USAGE'],
      [null, false, 'E_PROTOCOL'],
      [8, false, 'E_INVALID_ARGUMENT'],
    ]);
    const oversize = await rawControl(socketPath, Buffer.alloc(70 * 1024, 0x41), 1);
    expect(JSON.parse(oversize[0] ?? '{}')).toMatchObject({ ok: false, error: { code: 'E_PROTOCOL' } });
    const status = await cluster!.status(master);
    expect(status.role).toBe('master');
  });

  it('drops garbage UDP packets, counts them, and keeps its role', async () => {
    const self = (hostConfig(master).hosts as Array<{ id: number; address: string; port: number }>).find((h) => h.id === master)!;
    const socket = createSocket('udp4');
    const packets = [Buffer.from('garbage'), Buffer.alloc(600, 1), Buffer.concat([Buffer.from('YCSN'), Buffer.alloc(100)])];
    for (let i = 0; i < 30; i++) {
      await new Promise<void>((r) => socket.send(packets[i % packets.length]!, self.port, self.address, () => r()));
    }
    socket.close();
    await new Promise((r) => setTimeout(r, 300));
    const status = (await cluster!.status(master)) as StatusResult & { net: { dropped: Record<string, number>; accepted: number } };
    const dropped = Object.values(status.net.dropped).reduce((a, b) => a + b, 0);
    expect(dropped).toBeGreaterThanOrEqual(30);
    expect(status.net.accepted).toBeGreaterThan(0); // the peers' heartbeats still get through
    expect(status.role).toBe('master');
    expect(await cluster!.masterId()).toBe(master);
  });

  it('survives corrupt and misplaced sectors on the voting disk', async () => {
    const disk = join(scratch.dir, 'voting-disk.img');
    const ycsPids = cluster!.hosts.map((h) => ycsPidsFromLog(h.logPath));
    const fd = openSync(disk, 'r+');
    try {
      const headerSector = Buffer.alloc(512);
      readSync(fd, headerSector, 0, 512, 0);
      const header = decodeHeader(headerSector);
      const sector = Buffer.alloc(512);
      readSync(fd, sector, 0, 512, slotOffset(header, 'heartbeat', 1));
      writeSync(fd, sector, 0, 512, slotOffset(header, 'heartbeat', 8)); // host 1's record in host 8's slot: misplaced
      const garbage = Buffer.alloc(512, 0x5a);
      writeSync(fd, garbage, 0, 512, slotOffset(header, 'heartbeat', 7)); // host 7: garbage
      writeSync(fd, garbage, 0, 512, slotOffset(header, 'vote', 7, 0));
      const flipped = Buffer.from(sector);
      flipped[100] = (flipped[100] ?? 0) ^ 0xff; // a torn copy: CRC mismatch
      writeSync(fd, flipped, 0, 512, slotOffset(header, 'vote', 7, 1));
    } finally {
      closeSync(fd);
    }
    await new Promise((r) => setTimeout(r, 1500)); // several read rounds
    const statuses = [...(await cluster!.statuses()).values()] as StatusResult[];
    expect(statuses.map((s) => s.masterId)).toEqual([master, master, master]);
    expect(statuses.every((s) => s.hosts.length === 3)).toBe(true);
    expect(cluster!.hosts.map((h) => ycsPidsFromLog(h.logPath))).toEqual(ycsPids); // nobody restarted
  });
});

describe('a normal stop over the control socket', () => {
  it('shutdown stops the database, exits 0, and ycsm exits with it; the others keep their master', async () => {
    const victim = [1, 2, 3].find((h) => h !== master)!;
    const ycsm = cluster!.host(victim).ycsm!;
    const ycsmExit = new Promise<number | null>((r) => ycsm.once('exit', (code) => r(code)));
    await cluster!.waitFor(() => cluster!.dbPid(victim) !== undefined, 15_000, 'the standby database');
    const db = cluster!.dbPid(victim)!;
    const answer = await callDaemon(cluster!.host(victim).socketPath, 'shutdown', {});
    expect(answer).toEqual({ stopping: true });
    expect(await ycsmExit).toBe(0);
    expect(alive(db)).toBe(false);
    const log = readFileSync(cluster!.host(victim).logPath, 'utf8');
    expect(log).toContain(`"msg":"ycs host ${victim} stops: shutdown requested and every resource stopped"`);
    expect(log).toMatch(/"msg":"ycsm exits: ycs stopped normally/);
    expect(await cluster!.status(master)).toMatchObject({ role: 'master', masterId: master });
  }, 30_000);
});

describe('ycs refuses to start', () => {
  it('on a corrupt config: every problem on its own E_CONFIG line, exit 2', () => {
    const path = join(scratch.dir, 'bad.json');
    const config = hostConfig(1);
    writeFileSync(path, JSON.stringify({ ...config, hostId: 9, NETWORK_HB_TIMOUT: 1000, votingDisks: [join(scratch.dir, 'missing.img')] }));
    const run = spawnSync(process.execPath, [ycsMain, '--config', path], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.every((l) => l.startsWith(`E_CONFIG: ${path}: `))).toBe(true);
    expect(run.stderr).toContain('NETWORK_HB_TIMOUT: unknown key');
    expect(run.stderr).toContain('hostId: host 9 is not in hosts');
    expect(run.stderr).toContain('missing.img is unreachable (ENOENT)');
    expect(run.stdout).toBe('');
  });

  it('on a file that is not JSON: one line, exit 2', () => {
    const path = join(scratch.dir, 'garbage.json');
    writeFileSync(path, '{ "cluster": ');
    const run = spawnSync(process.execPath, [ycsMain, '--config', path], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^E_CONFIG: .*garbage\.json: \(file\): is not valid JSON/);
  });

  it('on PR fencing over a regular file: one E_CONFIG line, exit 2', () => {
    const path = join(scratch.dir, 'pr-on-file.json');
    const config = hostConfig(1);
    writeFileSync(path, JSON.stringify({ ...config, fencing: 'scsi-pr', controlSocket: join(scratch.dir, 'pr.sock'), runDir: join(scratch.dir, 'pr-run') }));
    const run = spawnSync(process.execPath, [ycsMain, '--config', path], { encoding: 'utf8', timeout: 15_000 });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^E_CONFIG: .*cannot fence through regular files: .*voting-disk\.img/)]);
  });

  it('on a voting disk of another cluster: one E_FOREIGN_CLUSTER line, exit 1', () => {
    const path = join(scratch.dir, 'foreign.json');
    const config = hostConfig(1);
    writeFileSync(path, JSON.stringify({ ...config, cluster: 'other', controlSocket: join(scratch.dir, 'foreign.sock'), runDir: join(scratch.dir, 'foreign-run') }));
    const run = spawnSync(process.execPath, [ycsMain, '--config', path], { encoding: 'utf8', timeout: 15_000 });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^E_FOREIGN_CLUSTER: .*belongs to cluster 'demo'/)]);
  });
});
