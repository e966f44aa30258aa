// The heartbeat-2 server on a real Unix socket, driven by raw sockets the way a C or
// Java database would drive it.
import { execFileSync } from 'node:child_process';
import { lstatSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResourceEvent } from '../../src/core/types.js';
import { Hb2Server, type Hb2ServerOptions } from '../../src/resource/hb2-server.js';
import { nativePeerPid } from '../../src/resource/index.js';
import type { ResourceAuthority } from '../../src/resource/manager.js';
import { scratchDir } from '../helpers/loop.js';
import { waitFor as pollUntil } from '../helpers/wait.js';

let scratch: { dir: string; remove(): void };
let server: Hb2Server;
let events: string[];
const authorities: ResourceAuthority[] = [
  { role: 'primary', epoch: 9 },
  { role: 'standby', epoch: 9 },
];
const sockets: net.Socket[] = [];

async function startServer(silenceTimeoutMs = 5_000, extra: Partial<Hb2ServerOptions> = {}): Promise<void> {
  events = [];
  server = new Hb2Server({
    ...extra,
    socketPath: join(scratch.dir, 'hb2.sock'),
    resources: ['yasdb', 'yasfs'],
    hostId: 2,
    authority: (i) => authorities[i]!,
    leaseMs: 1_500,
    silenceTimeoutMs,
    onEvent: (i: number, e: ResourceEvent) => events.push(`${i}:${e}`),
    logger: pino({ level: 'silent' }),
  });
  await server.listen();
}

/** A raw client: sends lines, collects parsed reply lines, knows when it was closed. */
async function rawClient(): Promise<{ send(line: string): void; replies: any[]; closed: Promise<void>; socket: net.Socket }> {
  const socket = net.createConnection(join(scratch.dir, 'hb2.sock'));
  sockets.push(socket);
  const replies: any[] = [];
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) replies.push(JSON.parse(line));
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { send: (line) => socket.write(`${line}\n`), replies, closed, socket };
}

const waitFor = (check: () => boolean, timeoutMs = 3_000): Promise<void> => pollUntil(check, timeoutMs, 10);

beforeEach(() => {
  scratch = scratchDir('ycs-hb2-');
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await server?.close();
  scratch.remove();
});

describe('Hb2Server', () => {
  it('creates the socket with mode 0660 and answers hello and heartbeats with role, epoch and lease', async () => {
    await startServer();
    expect(statSync(join(scratch.dir, 'hb2.sock')).mode & 0o777).toBe(0o660);
    const c = await rawClient();
    c.send(JSON.stringify({ v: 1, type: 'hello', resource: 'yasdb', pid: 4242 }));
    c.send(JSON.stringify({ v: 1, type: 'heartbeat', seq: 1 }));
    c.send(JSON.stringify({ v: 1, type: 'heartbeat', seq: 2 }));
    await waitFor(() => c.replies.length === 3);
    expect(c.replies[0]).toEqual({ v: 1, type: 'welcome', resource: 'yasdb', hostId: 2, role: 'primary', epoch: 9, leaseMs: 1_500, timeoutMs: 5_000 });
    expect(c.replies[2]).toEqual({ v: 1, type: 'ack', seq: 2, role: 'primary', epoch: 9, leaseMs: 1_500 });
    expect(events).toEqual(['0:connected', '0:heartbeat', '0:heartbeat']);
    expect(server.connectedPids()).toEqual([4242]);
    server.pushAuthority(0, { role: 'standby', epoch: 10 });
    await waitFor(() => c.replies.length === 4);
    expect(c.replies[3]).toEqual({ v: 1, type: 'role', role: 'standby', epoch: 10 });
  });

  it('refuses to serve a socket another live server holds, and replaces a stale file', async () => {
    await startServer();
    const second = new Hb2Server({
      socketPath: join(scratch.dir, 'hb2.sock'), resources: ['yasdb'], hostId: 2, authority: () => authorities[0]!,
      leaseMs: 1, silenceTimeoutMs: 1_000, onEvent: () => {}, logger: pino({ level: 'silent' }),
    });
    await expect(second.listen()).rejects.toMatchObject({ code: 'E_REFUSED' });
    // A socket file left by a dead process (nobody behind it) is taken over.
    const stalePath = join(scratch.dir, 'stale.sock');
    execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => process.exit(0))`]);
    expect(lstatSync(stalePath).isSocket()).toBe(true);
    const third = new Hb2Server({
      socketPath: stalePath, resources: ['yasdb'], hostId: 2, authority: () => authorities[0]!,
      leaseMs: 1, silenceTimeoutMs: 1_000, onEvent: () => {}, logger: pino({ level: 'silent' }),
    });
    await third.listen();
    await third.close();
  });

  it('reports a closed socket as disconnected (the crash report)', async () => {
    await startServer();
    const c = await rawClient();
    c.send(JSON.stringify({ v: 1, type: 'hello', resource: 'yasfs', pid: 7 }));
    await waitFor(() => events.length === 1);
    c.socket.destroy();
    await waitFor(() => events.length === 2);
    expect(events).toEqual(['1:connected', '1:disconnected']);
    expect(server.connectedPids()).toEqual([]);
  });

  it('reports monitor-failed after NETWORK_HB_TIMEOUT of silence, and heartbeat when it resumes', async () => {
    const silent: number[] = [];
    await startServer(200, { onSilence: (i) => silent.push(i) }); // the metrics' ycs_heartbeat2_timeouts_total
    const c = await rawClient();
    const started = Date.now();
    c.send(JSON.stringify({ v: 1, type: 'hello', resource: 'yasdb', pid: 7 }));
    await waitFor(() => events.includes('0:monitor-failed'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(server.stats.silences).toBe(1);
    expect(silent).toEqual([0]);
    c.send(JSON.stringify({ v: 1, type: 'heartbeat', seq: 1 }));
    await waitFor(() => events.at(-1) === '0:heartbeat');
    expect(events).toEqual(['0:connected', '0:monitor-failed', '0:heartbeat']);
  });

  it('answers malformed input with an error line, closes that connection, and keeps serving', async () => {
    await startServer();
    const cases: Array<[string, string]> = [
      ['not json at all', 'E_PROTOCOL'],
      ['[1,2,3]', 'E_PROTOCOL'],
      [JSON.stringify({ v: 2, type: 'hello', resource: 'yasdb', pid: 1 }), 'E_UNSUPPORTED_VERSION'],
      [JSON.stringify({ v: 1, type: 'heartbeat', seq: 1 }), 'E_PROTOCOL'], // before hello
      [JSON.stringify({ v: 1, type: 'hello', resource: 'nosuch', pid: 1 }), 'E_REFUSED'],
      [JSON.stringify({ v: 1, type: 'hello', resource: 'yasdb', pid: -3 }), 'E_PROTOCOL'],
      [JSON.stringify({ v: 1, type: 'dance' }), 'E_PROTOCOL'],
      ['x'.repeat(5_000), 'E_PROTOCOL'], // no newline within the line limit
    ];
    for (const [line, code] of cases) {
      const c = await rawClient();
      if (line.startsWith('xxx')) c.socket.write(line);
      else c.send(line);
      await c.closed;
      expect(c.replies, line.slice(0, 40)).toEqual([expect.objectContaining({ type: 'error', code })]);
    }
    expect(server.stats.protocolErrors).toBe(cases.length);
    expect(events).toEqual([]); // nobody said hello successfully: nothing to report
    // Binary garbage and an abrupt reset do not hurt either.
    const rude = await rawClient();
    rude.socket.write(Buffer.from([0, 255, 10, 13, 10, 0xc3]));
    await rude.closed;
    const good = await rawClient();
    good.send(JSON.stringify({ v: 1, type: 'hello', resource: 'yasdb', pid: 5 }));
    await waitFor(() => good.replies.length === 1);
    expect(good.replies[0].type).toBe('welcome');
  });

  it('refuses a second live instance of one resource, and replaces a silent one', async () => {
    await startServer(200);
    const first = await rawClient();
    first.send(JSON.stringify({ v: 1, type: 'hello', resource: 'yasdb', pid: 100 }));
    await waitFor(() => first.replies.length === 1);
    const second = await rawClient();
    second.send(JSON.stringify({ v: 1, type: 'hello', resource: 'yasdb', pid: 200 }));
    await second.closed;
    expect(second.replies[0]).toMatchObject({ type: 'error', code: 'E_REFUSED' });
    await waitFor(() => events.includes('0:monitor-failed')); // the first one falls silent
    const third = await rawClient();
    third.send(JSON.stringify({ v: 1, type: 'hello', resource: 'yasdb', pid: 300 }));
    await first.closed; // cut off: it must not wake up beside its successor
    await waitFor(() => third.replies.length === 1);
    expect(third.replies[0].type).toBe('welcome');
    expect(server.connectedPids()).toEqual([300]);
  });

  it('checks the hello pid against SO_PEERCRED and serves only its own resources', async () => {
    await startServer(5_000, { peerPid: nativePeerPid, served: [0] });
    const liar = await rawClient();
    liar.send(JSON.stringify({ v: 1, type: 'hello', resource: 'yasdb', pid: 4242 }));
    await liar.closed;
    expect(liar.replies[0]).toEqual({ v: 1, type: 'error', code: 'E_REFUSED', message: `hello says pid 4242 but the peer is pid ${process.pid}` });
    const elsewhere = await rawClient();
    elsewhere.send(JSON.stringify({ v: 1, type: 'hello', resource: 'yasfs', pid: process.pid }));
    await elsewhere.closed;
    expect(elsewhere.replies[0]).toMatchObject({ code: 'E_REFUSED', message: 'resource yasfs is not served on this socket' });
    const honest = await rawClient();
    honest.send(JSON.stringify({ v: 1, type: 'hello', resource: 'yasdb', pid: process.pid }));
    await waitFor(() => honest.replies.length === 1);
    expect(honest.replies[0].type).toBe('welcome');
    expect(server.connectedPids()).toEqual([process.pid]);
  });
});
