// Failover on real processes: three hosts on 127.0.0.1, each its own ycsm -> ycs -> demo
// database, sharing a real loop device as the voting disk (fencing 'none'). The faults
// are real signals: kill -9 of the master's database, of the master's ycs, of a
// standby's database. One cluster serves every test in this file; each test starts by
// waiting for a healthy cluster and finds the current master itself.
// Runs the compiled daemon: `npm run build` first. Needs root (losetup).
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { StatusResult } from '../../src/cli/status.js';
import { REPO_ROOT, agreedMaster } from '../../src/demo/cluster.js';
import { parseRecord } from '../../src/demo/logs.js';
import { startFailoverCluster, isStatus, type FailoverFixture, type Healthy } from '../helpers/cluster-fixture.js';
import { createLoop } from '../helpers/loop.js';
import { isAlive, procStat, waitForExit } from '../helpers/processes.js';

let fx: FailoverFixture;
const ALL = [1, 2, 3];

beforeAll(async () => {
  fx = await startFailoverCluster('process', {
    prepare: (dir, f) => {
      const loop = createLoop(dir, 16 << 20, 512);
      f.defer(() => loop.detach());
      return { votingDisks: [loop.device] };
    },
  });
}, 60_000);

afterAll(async () => {
  await fx?.cleanup();
}, 60_000);

function printStoryOnFailure(sinceMs: number): void {
  onTestFailed(() => console.log(`failover story:\n  ${fx.story(sinceMs).join('\n  ')}`));
}

/** Roles the database `pid` of a host logged since `sinceMs` (wall clock), in order. */
function dbRolesSince(hostId: number, pid: number, sinceMs: number): string[] {
  const log = readFileSync(join(fx.cluster.host(hostId).runDir, 'YasDB.log'), 'utf8');
  return log.split('\n').map(parseRecord).filter((r) => r !== undefined && r.pid === pid && r.time >= sinceMs && typeof r.role === 'string').map((r) => String(r?.role));
}

async function healthy(): Promise<Healthy> {
  const state = await fx.waitHealthy(30_000);
  expect(fx.dataViolations()).toEqual([]);
  return state;
}

describe('failover on real processes (loop-device voting disk)', () => {
  it('kill -9 of the master database: a standby is master within 1 s', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const pid = fx.cluster.dbPid(before.master)!;
    const killedWallMs = Date.now();
    const { ms, value: newMaster } = await fx.measure('db-kill', () => process.kill(pid, 'SIGKILL'), ALL, (s) => {
      const m = agreedMaster(s);
      return m !== undefined && m !== before.master ? m : undefined;
    }, 15_000);
    expect(newMaster).not.toBe(before.master);
    expect(ms).toBeLessThan(1000);
    // The new master's database writes at the new epoch; the old master's runs again as a standby.
    const after = await healthy();
    expect(after.master).toBe(newMaster);
    expect(after.epoch).toBeGreaterThan(before.epoch);
    expect(fx.cluster.dbPid(before.master)).not.toBe(pid);
    // The seed's log lines, logged after the kill: the old master starts the vote.
    expect(fx.logSince(before.master, killedWallMs)).toContain('abnormal found, trigger a new vote cycle');
    for (const id of ALL) expect(fx.logSince(id, killedWallMs)).toContain(id === newMaster ? 'ycs run as primary successfully' : 'try join primary');
  }, 60_000);

  it('kill -9 of a standby database: restarted in place, no failover', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const standby = ALL.find((id) => id !== before.master)!;
    const pid = fx.cluster.dbPid(standby)!;
    const linesBefore = fx.dataLines().length;
    const seenMasters = new Set<number>();
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    await fx.waitFor(ALL, (s) => {
      for (const st of s.values()) if (isStatus(st) && st.masterId !== 0) seenMasters.add(st.masterId);
      const next = fx.cluster.dbPid(standby);
      return next !== undefined && next !== pid && isAlive(next) && agreedMaster(s) === before.master;
    }, 20_000, 'the standby database restarted');
    const after = await healthy();
    console.log(`failover[standby-db-kill]: none (master ${before.master} kept; database restarted in ${Math.round(performance.now() - killedAt)} ms)`);
    expect([...seenMasters]).toEqual([before.master]);
    expect(after).toEqual(before); // same master, same epoch: no vote happened
    expect(new Set(fx.dataLines().slice(linesBefore).map((l) => l.host))).toEqual(new Set([before.master]));
  }, 60_000);

  it('bad input: malformed heartbeat-2 and control requests, garbage UDP, a corrupt config', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const host = fx.cluster.host(before.master);
    const db = fx.cluster.dbPid(before.master)!;
    const statusBefore = (await fx.cluster.status(before.master)) as StatusResult & { hb2: Array<{ protocolErrors: number }>; net: { dropped: Record<string, number> } };
    const hb2Socket = join(host.runDir, 'YasDB.sock');
    // Heartbeat 2: every bad message gets an error line and its connection closed.
    const hb2Cases: Array<[string, string, string]> = [
      ['not json\n', 'E_PROTOCOL', 'not JSON'],
      ['{"v":1,"type":"heartbeat","seq":1}\n', 'E_PROTOCOL', 'heartbeat before hello'],
      ['{"v":9,"type":"hello","resource":"YasDB","pid":1}\n', 'E_UNSUPPORTED_VERSION', 'future version'],
      ['{"v":1,"type":"hello","resource":"Nope","pid":1}\n', 'E_REFUSED', 'unknown resource'],
      [`{"v":1,"type":"hello","resource":"YasDB","pid":${db}}\n`, 'E_REFUSED', 'pid of another process'],
      [`{"v":1,"type":"hello","resource":"YasDB","pid":${process.pid}}\n`, 'E_REFUSED', 'second instance of a connected resource'],
      ['x'.repeat(4096), 'E_PROTOCOL', 'line over the limit'],
    ];
    for (const [payload, code, what] of hb2Cases) {
      const answer = await rawExchange(hb2Socket, payload);
      expect(answer.closed, what).toBe(true);
      expect(JSON.parse(answer.lines[0] ?? '{}'), what).toMatchObject({ type: 'error', code });
    }
    // Control socket: errors answered per line, the connection keeps serving.
    const control = await rawExchange(host.socketPath, 'not json\n{"id":7,"command":"no-such"}\n[1,2]\n{"id":8,"command":"status"}\n', 4);
    expect(control.lines.slice(0, 3).map((l) => (JSON.parse(l) as { ok: boolean }).ok)).toEqual([false, false, false]);
    expect(JSON.parse(control.lines[3] ?? '{}')).toMatchObject({ id: 8, ok: true });
    // Garbage UDP to the heartbeat port: dropped and counted.
    const config = JSON.parse(readFileSync(host.configPath, 'utf8')) as { hosts: Array<{ id: number; address: string; port: number }> };
    const self = config.hosts.find((h) => h.id === before.master)!;
    const udp = createSocket('udp4');
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => udp.send(i % 2 === 0 ? Buffer.from('garbage') : Buffer.alloc(300, i), self.port, self.address, () => r()));
    udp.close();
    await new Promise((r) => setTimeout(r, 300));
    const statusAfter = (await fx.cluster.status(before.master)) as typeof statusBefore;
    const drops = (s: typeof statusBefore): number => Object.values(s.net.dropped).reduce((a, b) => a + b, 0);
    expect(drops(statusAfter) - drops(statusBefore)).toBeGreaterThanOrEqual(20);
    expect(statusAfter.hb2[0]!.protocolErrors - statusBefore.hb2[0]!.protocolErrors).toBe(hb2Cases.length);
    // Nothing of it moved the cluster: same master, same epoch, same database still writing.
    const after = await healthy();
    expect(after).toEqual(before);
    expect(fx.cluster.dbPid(before.master)).toBe(db);
    console.log(`failover[bad-input]: none (master ${before.master} kept, epoch ${before.epoch})`);
    // A corrupt config: one E_CONFIG line per problem and a non-zero exit, from ycs and ycsm.
    const bad = join(fx.dir, 'corrupt.json');
    writeFileSync(bad, JSON.stringify({ ...config, hostId: 9, DISK_HB_KEEP_ALIVE: 'soon', votingDisks: ['/dev/no-such-disk'] }));
    for (const main of ['daemon', 'monitor']) {
      const run = spawnSync(process.execPath, [join(REPO_ROOT, `dist/src/${main}/main.js`), '--config', bad], { encoding: 'utf8', timeout: 15_000 });
      expect(run.status, main).not.toBe(0);
      const lines = run.stderr.trim().split('\n');
      expect(lines.every((l) => l.startsWith('E_CONFIG: ')), `${main}: ${run.stderr}`).toBe(true);
    }
    const ycsRun = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/src/daemon/main.js'), '--config', bad], { encoding: 'utf8', timeout: 15_000 });
    expect(ycsRun.stderr).toContain('hostId: host 9 is not in hosts');
    expect(ycsRun.stderr).toContain('/dev/no-such-disk is unreachable (ENOENT)');
    writeFileSync(bad, '{"cluster": "demo", ');
    const notJson = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/src/daemon/main.js'), '--config', bad], { encoding: 'utf8', timeout: 15_000 });
    expect(notJson.status).not.toBe(0);
    expect(notJson.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^E_CONFIG: .*corrupt\.json: /)]);
  }, 60_000);

  it('kill -9 of the master ycs: ycsm restarts it, no failover, the database keeps its pid and role', async () => {
    printStoryOnFailure(Date.now() - 5_000);
    const before = await healthy();
    const ycs = fx.ycsPid(before.master)!;
    const db = fx.cluster.dbPid(before.master)!;
    const dbStart = procStat(db)?.startTime;
    const linesBefore = fx.dataLines().length;
    const killedAt = performance.now();
    const killedWallMs = Date.now();
    process.kill(ycs, 'SIGKILL');
    expect(await waitForExit(ycs, 2000)).toBe(true);
    // Until ycs is back and the cluster settled, no host may name another master.
    let back: number | undefined;
    const seenMasters = new Set<number>();
    await fx.waitFor(ALL, (s) => {
      for (const st of s.values()) if (isStatus(st) && st.masterId !== 0) seenMasters.add(st.masterId);
      expect([...seenMasters], 'a needless failover: another host was named master').toEqual([before.master]);
      const newYcs = fx.ycsPid(before.master);
      if (back === undefined && newYcs !== undefined && newYcs !== ycs && isStatus(s.get(before.master))) back = performance.now() - killedAt;
      return back !== undefined && agreedMaster(s) === before.master && (s.get(before.master) as { role?: string }).role === 'master';
    }, 20_000, 'ycs restarted by ycsm and master again');
    // And it stays so for longer than DISK_HB_KEEP_ALIVE: the restarted ycs does not lose the role again.
    const settleUntil = performance.now() + 3000;
    while (performance.now() < settleUntil) {
      const s = await fx.statusesOf(ALL);
      for (const st of s.values()) if (isStatus(st) && st.masterId !== 0) seenMasters.add(st.masterId);
      expect([...seenMasters], 'a needless failover after ycs came back').toEqual([before.master]);
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`failover[ycs-kill]: none (master ${before.master} kept; ycs answering again ${Math.round(back ?? -1)} ms after the kill)`);
    const after = await healthy();
    expect(after.master).toBe(before.master);
    // The same database process, never demoted or stopped by ycs; only the master's host wrote since.
    expect(fx.cluster.dbPid(before.master)).toBe(db);
    expect(procStat(db)?.startTime).toBe(dbStart);
    const roles = dbRolesSince(before.master, db, killedWallMs);
    expect(roles.filter((r) => r === 'standby' || r === 'offline')).toEqual([]);
    expect(roles.at(-1)).toBe('primary');
    expect(new Set(fx.dataLines().slice(linesBefore).map((l) => l.host))).toEqual(new Set([before.master]));
    expect(fx.logOf(before.master)).toMatch(/restarting it in \d+ ms/);
  }, 60_000);
});

/** Writes `payload` on a fresh connection; collects answer lines until `lines` arrived or the peer closed. */
function rawExchange(socketPath: string, payload: string, lines = 1): Promise<{ lines: string[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let text = '';
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ lines: text.split('\n').filter(Boolean), closed });
    };
    const timer = setTimeout(() => reject(new Error(`no answer on ${socketPath} to ${payload.slice(0, 60)}; got ${JSON.stringify(text)}`)), 5000);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (lines > 1 && text.split('\n').filter(Boolean).length >= lines) done(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => done(true));
  });
}
