// The heartbeat-2 client library against the real server, and its lease against a ycs
// that is frozen with SIGSTOP (a separate process speaking the protocol).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectYcs, type YcsClient, type YcsRoleState } from '../../src/client/index.js';
import { Hb2Server } from '../../src/resource/hb2-server.js';
import type { ResourceAuthority } from '../../src/resource/manager.js';
import { scratchDir } from '../helpers/loop.js';
import { waitFor as pollUntil } from '../helpers/wait.js';

let scratch: { dir: string; remove(): void };
let servers: Hb2Server[];
let clients: YcsClient[];
let children: ChildProcess[];

beforeEach(() => {
  scratch = scratchDir('ycs-client-');
  servers = [];
  clients = [];
  children = [];
});
afterEach(async () => {
  for (const client of clients) await client.close();
  for (const server of servers) await server.close();
  for (const child of children) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  scratch.remove();
});

const waitFor = (check: () => boolean, timeoutMs = 3_000): Promise<void> => pollUntil(check, timeoutMs, 5);

async function startServer(
  authority: { current: ResourceAuthority },
  events: string[] = [],
  leaseMs: number | (() => number) = 2_000,
): Promise<Hb2Server> {
  const server = new Hb2Server({
    socketPath: join(scratch.dir, 'hb2.sock'),
    resources: ['yasdb'],
    hostId: 1,
    authority: () => authority.current,
    leaseMs,
    silenceTimeoutMs: 5_000,
    onEvent: (_, e) => events.push(e),
    logger: pino({ level: 'silent' }),
  });
  await server.listen();
  servers.push(server);
  return server;
}

function client(onRole: (s: YcsRoleState) => void, intervalMs = 100): YcsClient {
  const c = connectYcs({ socketPath: join(scratch.dir, 'hb2.sock'), resource: 'yasdb', intervalMs, onRole, reconnectMaxMs: 200 });
  clients.push(c);
  return c;
}

describe('connectYcs', () => {
  it('learns its role and epoch, writes only at the current epoch, and is demoted at once by a push', async () => {
    const authority = { current: { role: 'primary', epoch: 9 } as ResourceAuthority };
    const server = await startServer(authority);
    const roles: string[] = [];
    const c = client((s) => roles.push(`${s.role}@${s.epoch}`), 1_000);
    expect(c.canWrite()).toBe(false); // no lease before the first ack
    await waitFor(() => c.canWrite(9));
    expect(c.canWrite(8)).toBe(false); // a write stamped with an older epoch is refused
    expect(c.state()).toEqual({ role: 'primary', epoch: 9, hostId: 1 });
    authority.current = { role: 'standby', epoch: 10 };
    const pushedAt = performance.now();
    server.pushAuthority(0, authority.current);
    await waitFor(() => !c.canWrite());
    expect(performance.now() - pushedAt).toBeLessThan(200); // not a heartbeat interval (1 s) later
    // A grant by push takes effect after one round trip, not at the next interval.
    authority.current = { role: 'primary', epoch: 11 };
    const grantedAt = performance.now();
    server.pushAuthority(0, authority.current);
    await waitFor(() => c.canWrite(11));
    expect(performance.now() - grantedAt).toBeLessThan(200);
    expect(roles).toEqual(['primary@9', 'standby@10', 'primary@11']);
  });

  it('a lease granted as standby never stretches the primary lease that follows it', async () => {
    // ycs grants a standby a long lease (it only says ycs is alive) and a primary one that
    // ends with the master window: after the promotion only the primary grant counts.
    const authority = { current: { role: 'standby', epoch: 4 } as ResourceAuthority };
    const lease = { ms: 5_000 };
    const server = await startServer(authority, [], () => lease.ms);
    const c = client(() => {}, 100);
    await waitFor(() => c.state().role === 'standby');
    expect(c.leaseRemainingMs()).toBeGreaterThan(4_000);
    lease.ms = 300;
    authority.current = { role: 'primary', epoch: 5 };
    server.pushAuthority(0, authority.current);
    await waitFor(() => c.canWrite(5));
    expect(c.leaseRemainingMs()).toBeLessThanOrEqual(300);
    // and back: a demotion's standby lease starts afresh too, not from the primary's
    lease.ms = 5_000;
    authority.current = { role: 'standby', epoch: 6 };
    server.pushAuthority(0, authority.current);
    await waitFor(() => c.state().role === 'standby' && c.state().epoch === 6);
    expect(c.canWrite()).toBe(false);
  });

  it('reconnects to a restarted server and is welcomed again', async () => {
    const authority = { current: { role: 'standby', epoch: 4 } as ResourceAuthority };
    const events: string[] = [];
    const first = await startServer(authority, events);
    const c = client(() => {});
    await waitFor(() => c.connected && c.state().role === 'standby');
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    await waitFor(() => !c.connected);
    await startServer(authority, events);
    await waitFor(() => c.connected, 2_000);
    await waitFor(() => events.filter((e) => e === 'connected').length === 2);
    expect(c.state()).toEqual({ role: 'standby', epoch: 4, hostId: 1 });
  });

  it('reports unknown and refuses writes when a SIGSTOPped ycs lets the lease run out', async () => {
    const leaseMs = 600;
    const socketPath = join(scratch.dir, 'frozen.sock');
    // A complete heartbeat-2 server in a few lines, as a non-TypeScript database vendor would see it.
    const miniYcs = `
      const net = require('net'); const fs = require('fs'); const path = process.argv[1];
      try { fs.unlinkSync(path); } catch {}
      net.createServer((s) => { let buf = ''; s.setEncoding('utf8'); s.on('error', () => {});
        s.on('data', (d) => { buf += d; let i;
          while ((i = buf.indexOf('\\n')) >= 0) { const m = JSON.parse(buf.slice(0, i)); buf = buf.slice(i + 1);
            const reply = m.type === 'hello'
              ? { v: 1, type: 'welcome', resource: m.resource, hostId: 1, role: 'primary', epoch: 3, leaseMs: ${leaseMs}, timeoutMs: 3000 }
              : { v: 1, type: 'ack', seq: m.seq, role: 'primary', epoch: 3, leaseMs: ${leaseMs} };
            s.write(JSON.stringify(reply) + '\\n'); } }); })
        .listen(path, () => console.log('ready'));`;
    const ycs = spawn(process.execPath, ['-e', miniYcs, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(ycs);
    await new Promise<void>((resolve) => ycs.stdout!.once('data', () => resolve()));
    const roles: Array<{ role: string; atMs: number }> = [];
    const c = connectYcs({ socketPath, resource: 'yasdb', intervalMs: 100, onRole: (s) => roles.push({ role: s.role, atMs: performance.now() }) });
    clients.push(c);
    await waitFor(() => c.canWrite(3));
    ycs.kill('SIGSTOP');
    const stoppedAtMs = performance.now();
    const remainingAtStopMs = c.leaseRemainingMs();
    await waitFor(() => roles.at(-1)?.role === 'unknown', 3_000);
    const expiredAfterMs = roles.at(-1)!.atMs - stoppedAtMs;
    expect(c.canWrite(3)).toBe(false);
    expect(c.leaseRemainingMs()).toBe(0);
    // The lease counts from the send time of the last answered heartbeat, so it never
    // reaches past the stop by more than leaseMs; the report comes when it runs out,
    // never before (timer slack on a loaded machine aside).
    expect(remainingAtStopMs).toBeLessThanOrEqual(leaseMs);
    expect(remainingAtStopMs).toBeGreaterThan(0);
    expect(expiredAfterMs).toBeGreaterThanOrEqual(remainingAtStopMs - 1);
    expect(expiredAfterMs).toBeLessThanOrEqual(remainingAtStopMs + 250);
    console.log(`lease ${leaseMs} ms: ${remainingAtStopMs.toFixed(0)} ms left at SIGSTOP, role unknown after ${expiredAfterMs.toFixed(0)} ms`);
    ycs.kill('SIGCONT');
    await waitFor(() => c.canWrite(3));
    expect(roles.map((r) => r.role)).toEqual(['primary', 'unknown', 'primary']);
  });
});
