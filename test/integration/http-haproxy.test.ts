// The daemon's HTTP listener on real processes: Prometheus metrics read with curl, the
// health endpoints, and Debian's HAProxy routing to the primary with `option httpchk GET
// /primary` across a failover (kill -9 of the master's database). Three hosts on
// 127.0.0.1 on a loop-device voting disk; each host's listener also serves /cluster, which
// stands in for the database behind the load balancer (its answer names the host).
// Runs the compiled daemon: `npm run build` first. Needs root (losetup) and haproxy.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agreedMaster } from '../../src/demo/cluster.js';
import { freeTcpPort } from '../../src/demo/ports.js';
import { startFailoverCluster, type FailoverFixture } from '../helpers/cluster-fixture.js';
import { createLoop } from '../helpers/loop.js';

const ALL = [1, 2, 3];
let fx: FailoverFixture;
let haproxy: ChildProcess | undefined;
let frontend = '';

function url(h: number, path: string): string {
  return `${fx.cluster.host(h).httpUrl}${path}`;
}

async function get(target: string): Promise<{ code: number; body: string }> {
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(1_000) });
    return { code: res.status, body: await res.text() };
  } catch {
    return { code: 0, body: '' };
  }
}

/** The host HAProxy sent the request to (its /cluster answer), or 0. */
async function routedTo(): Promise<number> {
  const r = await get(`${frontend}/cluster`);
  return r.code === 200 ? (JSON.parse(r.body) as { selfId: number }).selfId : 0;
}

beforeAll(async () => {
  fx = await startFailoverCluster('http', {
    http: true,
    prepare: (dir, f) => {
      const loop = createLoop(dir, 16 << 20, 512);
      f.defer(() => loop.detach());
      return { votingDisks: [loop.device] };
    },
  });
  const port = await freeTcpPort();
  frontend = `http://127.0.0.1:${port}`;
  const config = join(fx.dir, 'haproxy.cfg');
  writeFileSync(config, [
    'global',
    '  log stdout format raw local0 warning',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 5s',
    '  timeout server 5s',
    'frontend db',
    `  bind 127.0.0.1:${port}`,
    '  default_backend primary',
    'backend primary',
    '  option httpchk GET /primary',
    '  http-check expect status 200',
    '  default-server inter 100ms fall 1 rise 1',
    ...ALL.map((h) => `  server host${h} ${new URL(fx.cluster.host(h).httpUrl!).host} check`),
    '',
  ].join('\n'));
  execFileSync('haproxy', ['-c', '-f', config], { stdio: 'pipe' }); // the config is valid
  haproxy = spawn('haproxy', ['-db', '-f', config], { stdio: 'ignore' });
  fx.defer(() => haproxy?.kill('SIGKILL'));
}, 60_000);

afterAll(async () => {
  haproxy?.kill('SIGKILL');
  await fx?.cleanup();
}, 60_000);

describe('HTTP listener: metrics, health endpoints, HAProxy', () => {
  it('serves Prometheus metrics and the health endpoints on every host', async () => {
    const { master } = await fx.waitHealthy(40_000);
    const metrics = execFileSync('curl', ['-sf', url(master, '/metrics')], { encoding: 'utf8' });
    console.log(`curl ${url(master, '/metrics')} (ycs_ lines):\n${metrics.split('\n').filter((l) => l.startsWith('ycs_') && !l.includes('_bucket')).slice(0, 40).join('\n')}`);
    expect(metrics).toMatch(new RegExp(`ycs_role\\{role="master",cluster="demo",host="${master}"\\} 1`));
    expect(metrics).toMatch(/ycs_resource_state\{resource="YasDB",state="primary"[^}]*\} 1/);
    expect(metrics).toMatch(new RegExp(`ycs_cluster_master_id\\{[^}]*\\} ${master}`));
    expect(metrics).toMatch(/ycs_disk_io_seconds_bucket\{[^}]*disk="0",op="read"/);
    expect(metrics).toMatch(/# TYPE ycs_event_loop_lag_seconds gauge/); // values once the first 10 s window closed
    expect(metrics).toMatch(/# TYPE ycs_event_loop_wakeup_delay_seconds gauge/);
    expect(metrics).not.toMatch(/nodejs_eventloop_lag/); // prom-client's own lag gauges cost ~0.7 ms per scrape: removed
    // The process series under prom-client's standard names, computed without file I/O on the loop (src/metrics/process.ts).
    expect(metrics).toMatch(new RegExp(`process_resident_memory_bytes\\{cluster="demo",host="${master}"\\} [1-9]`));
    expect(metrics).toMatch(/process_cpu_seconds_total\{[^}]*\} [0-9.e-]+\n/);
    expect(metrics).toMatch(/nodejs_heap_size_used_bytes\{[^}]*\} [1-9]/);
    expect(metrics).not.toMatch(/nodejs_heap_space_size|nodejs_gc_duration|nodejs_active_handles/); // dropped: docs/metrics.md
    // Per-peer heartbeat ages: every peer, both paths, fresh (below DISK_HB_KEEP_ALIVE and NETWORK_HB_TIMEOUT).
    for (const peer of ALL.filter((h) => h !== master)) {
      for (const path of ['disk', 'net']) {
        const m = new RegExp(`ycs_peer_heartbeat_age_seconds\\{peer="${peer}",path="${path}"[^}]*\\} ([0-9.e-]+)`).exec(metrics);
        expect(m, `${path} age of peer ${peer}`).not.toBeNull();
        expect(Number(m![1])).toBeLessThan(1);
      }
    }
    // The first election: some host proposed and its round was chosen (the master's own, unless it adopted another's value).
    const chosen = ALL.map((h) => /ycs_vote_rounds_total\{outcome="chosen"[^}]*\} (\d+)/.exec(execFileSync('curl', ['-sf', url(h, '/metrics')], { encoding: 'utf8' }))?.[1]);
    expect(chosen.reduce((sum, n) => sum + Number(n ?? 0), 0)).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/# TYPE ycs_vote_cycles_total counter/);
    expect(metrics).toMatch(/ycs_vote_writes_total\{disk="0"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/# TYPE ycs_heartbeat2_timeouts_total counter/);
    for (const h of ALL) {
      expect((await get(url(h, '/primary'))).code).toBe(h === master ? 200 : 503);
      expect((await get(url(h, '/standby?resource=YasDB'))).code).toBe(h === master ? 503 : 200);
      expect((await get(url(h, '/health'))).code).toBe(200);
    }
    const nope = await get(url(master, '/primary?resource=Nope'));
    expect(nope.code).toBe(404);
    expect(JSON.parse(nope.body)).toEqual({ error: 'E_NOT_FOUND: no resource "Nope"' });
    expect((await get(url(master, '/nothing'))).code).toBe(404);
    const cluster = JSON.parse((await get(url(master, '/cluster'))).body) as { selfId: number; masterId: number; resources: string[] };
    expect(cluster).toMatchObject({ selfId: master, masterId: master, resources: ['YasDB'] });
  }, 60_000);

  it('HAProxy routes to the new primary within a second of the failover', async () => {
    const before = await fx.waitHealthy(40_000);
    for (let i = 0; i < 100 && (await routedTo()) !== before.master; i++) await sleep(100);
    expect(await routedTo()).toBe(before.master);
    const pid = fx.cluster.dbPid(before.master)!;
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    let promotedAt: number | undefined;
    let routedAt: number | undefined;
    let newMaster = 0;
    while (routedAt === undefined && performance.now() - killedAt < 15_000) {
      const [statuses, routed] = await Promise.all([fx.statusesOf(ALL, 300), routedTo()]);
      const m = agreedMaster(statuses);
      if (promotedAt === undefined && m !== undefined && m !== before.master) {
        promotedAt = performance.now();
        newMaster = m;
      }
      if (promotedAt !== undefined && routed === newMaster) routedAt = performance.now();
      await sleep(20);
    }
    expect(promotedAt).toBeDefined();
    expect(routedAt).toBeDefined();
    const lagMs = Math.round((routedAt ?? 0) - (promotedAt ?? 0));
    console.log(`haproxy: new master ${newMaster} agreed ${Math.round((promotedAt ?? 0) - killedAt)} ms after the kill; HAProxy routed to it ${lagMs} ms later`);
    expect(lagMs).toBeLessThan(1_000);
    // It stays there: no request goes to the old master.
    for (let i = 0; i < 10; i++) expect(await routedTo()).toBe(newMaster);
  }, 60_000);
});
