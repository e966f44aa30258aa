// A real control socket in a scratch directory; a second uid via child_process options.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callDaemon } from '../../src/control/client.js';
import { type CommandTable, ControlServer, type ControlPeer } from '../../src/daemon/control.js';
import { YcsError } from '../../src/errors.js';
import { scratchDir } from '../helpers/loop.js';

let scratch: ReturnType<typeof scratchDir>;
let server: ControlServer | undefined;
const changes: string[] = [];
const peers: ControlPeer[] = [];

const commands: CommandTable = {
  status: { mutating: false, handler: (_args, peer) => (peers.push(peer), { selfId: 1 }) },
  fence: {
    mutating: true,
    handler: (args) => {
      if (typeof args.host !== 'number') throw new YcsError('E_INVALID_ARGUMENT', 'fence: host must be a number');
      changes.push(`fence ${args.host}`);
      return { fenced: args.host };
    },
  },
  crash: { mutating: false, handler: () => { throw new TypeError('handler bug'); } },
  slow: { mutating: false, handler: () => new Promise((r) => setTimeout(() => r('late'), 50)) },
};

beforeEach(() => {
  scratch = scratchDir('ycs-control-');
  chmodSync(scratch.dir, 0o755); // lets the uid-65534 client reach the socket's directory
  changes.length = 0;
  peers.length = 0;
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  scratch.remove();
});

async function start(options: Partial<Parameters<typeof ControlServer.start>[0]> = {}): Promise<string> {
  const socketPath = join(scratch.dir, 'run', 'ycs.sock');
  server = await ControlServer.start({ socketPath, group: 'root', commands, ...options });
  return socketPath;
}

/** Sends raw bytes and collects every response line until the server closes or `lines` arrive. */
function raw(socketPath: string, payload: string | Buffer, lines: number): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let text = '';
    const done = () => {
      socket.destroy();
      resolve(text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
    };
    socket.on('data', (d) => {
      text += d.toString();
      if (text.split('\n').filter(Boolean).length >= lines) done();
    });
    socket.on('close', done);
    socket.on('error', reject);
    socket.write(payload);
  });
}

/** Runs a tiny plain-JS client as uid/gid 65534 (nobody/nogroup) and returns its parsed response. */
function callAs(uid: number, gid: number, socketPath: string, request: object): Promise<Record<string, unknown>> {
  const script = `
    const s = require('node:net').connect(process.argv[1]);
    let t = '';
    s.on('connect', () => s.write(process.argv[2] + '\\n'));
    s.on('data', (d) => { t += d; if (t.includes('\\n')) { process.stdout.write(t); s.destroy(); } });
    s.on('error', (e) => { process.stdout.write(JSON.stringify({ clientError: e.code }) + '\\n'); });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, socketPath, JSON.stringify(request)], { uid, gid, cwd: '/' });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n')[0] ?? '') as Record<string, unknown>);
      } catch {
        reject(new Error(`child printed ${JSON.stringify(out)}`));
      }
    });
  });
}

describe('control socket', () => {
  it('round-trips commands with the client and reports the peer credentials', async () => {
    const socketPath = await start();
    await expect(callDaemon(socketPath, 'status')).resolves.toEqual({ selfId: 1 });
    await expect(callDaemon(socketPath, 'fence', { host: 3 })).resolves.toEqual({ fenced: 3 });
    expect(changes).toEqual(['fence 3']);
    expect(peers[0]).toEqual({ pid: process.pid, uid: 0, gid: 0, privileged: true });
    await expect(callDaemon(socketPath, 'fence', { host: 'x' })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: 'fence: host must be a number',
    });
    await expect(callDaemon(socketPath, 'crash')).rejects.toMatchObject({ code: 'E_INTERNAL', message: 'handler bug' });
    await expect(callDaemon(socketPath, 'nope')).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('creates the socket 0660 root:group in a 0750 directory', async () => {
    const socketPath = await start();
    const st = statSync(socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    expect([st.uid, st.gid]).toEqual([0, 0]);
    expect(statSync(join(scratch.dir, 'run')).mode & 0o777).toBe(0o750);
  });

  it('answers malformed requests with errors and keeps serving', async () => {
    const socketPath = await start();
    const responses = await raw(
      socketPath,
      'not json\n[1,2]\n{"command":"status"}\n{"id":7}\n{"id":8,"command":"status","args":[1]}\n\n{"id":9,"command":"status"}\n',
      6,
    );
    expect(responses.map((r) => [r.id, (r.error as { code?: string } | undefined)?.code ?? 'ok'])).toEqual([
      [null, 'E_PROTOCOL'],
      [null, 'E_PROTOCOL'],
      [null, 'E_PROTOCOL'],
      [7, 'E_PROTOCOL'],
      [8, 'E_INVALID_ARGUMENT'],
      [9, 'ok'],
    ]);
    await expect(callDaemon(socketPath, 'status')).resolves.toEqual({ selfId: 1 });
  });

  it('keeps the order of pipelined requests even when a handler is slow', async () => {
    const socketPath = await start();
    const responses = await raw(socketPath, '{"id":1,"command":"slow"}\n{"id":2,"command":"status"}\n', 2);
    expect(responses.map((r) => r.id)).toEqual([1, 2]);
    expect(responses[0]?.result).toBe('late');
  });

  it('refuses an oversize line, and survives clients that send garbage and vanish', async () => {
    const socketPath = await start({ maxLineBytes: 1024 });
    const [oversize] = await raw(socketPath, Buffer.alloc(5000, 0x61), 1);
    expect(oversize).toMatchObject({ ok: false, error: { code: 'E_PROTOCOL' } });
    for (let i = 0; i < 20; i++) {
      const s = connect(socketPath);
      s.on('error', () => undefined);
      s.on('connect', () => s.end(Buffer.from([0xff, 0x00, 0x7b, i])));
    }
    await new Promise((r) => setTimeout(r, 50));
    await expect(callDaemon(socketPath, 'status')).resolves.toEqual({ selfId: 1 });
  });

  it('lets another uid read status but refuses it a mutating command', async () => {
    const socketPath = await start({ socketMode: 0o666 });
    const status = await callAs(65534, 65534, socketPath, { id: 'a', command: 'status' });
    expect(status).toEqual({ id: 'a', ok: true, result: { selfId: 1 } });
    expect(peers.at(-1)).toMatchObject({ uid: 65534, gid: 65534, privileged: false });
    const fence = await callAs(65534, 65534, socketPath, { id: 'b', command: 'fence', args: { host: 2 } });
    expect(fence).toMatchObject({ id: 'b', ok: false, error: { code: 'E_PERMISSION' } });
    expect(changes).toEqual([]);
  });

  it('lets a member of the control group run a mutating command', async () => {
    const socketPath = await start({ socketMode: 0o660, group: 'nogroup' });
    const fence = await callAs(65534, 65534, socketPath, { id: 'c', command: 'fence', args: { host: 2 } });
    expect(fence).toEqual({ id: 'c', ok: true, result: { fenced: 2 } });
    expect(changes).toEqual(['fence 2']);
  });

  it('keeps other users off a 0660 socket entirely', async () => {
    const socketPath = await start({ socketMode: 0o660 });
    chmodSync(join(scratch.dir, 'run'), 0o755); // only the socket's own mode stands in the way
    expect(await callAs(65534, 65534, socketPath, { id: 'd', command: 'status' })).toEqual({ clientError: 'EACCES' });
  });

  it('reports a missing daemon as E_DAEMON_DOWN and removes a stale socket at start', async () => {
    const missing = join(scratch.dir, 'absent.sock');
    await expect(callDaemon(missing, 'status')).rejects.toMatchObject({
      code: 'E_DAEMON_DOWN',
      message: `ycs is not running on this host (no control socket at ${missing})`,
    });
    const socketPath = await start();
    await expect(ControlServer.start({ socketPath, group: 'root', commands })).rejects.toMatchObject({ code: 'E_REFUSED' });
    await server?.close();
    server = undefined;
    expect(existsSync(socketPath)).toBe(false);
    // a socket file left by a crashed daemon: nobody answers, so the next start replaces it
    const stale = await import('node:net').then((net) => net.createServer().listen(socketPath));
    await new Promise((r) => stale.once('listening', r));
    (stale as unknown as { _handle: { close(): void } })._handle.close(); // close without unlinking
    await expect(callDaemon(socketPath, 'status')).rejects.toMatchObject({ code: 'E_DAEMON_DOWN' });
    await start();
    await expect(callDaemon(socketPath, 'status')).resolves.toEqual({ selfId: 1 });
    writeFileSync(join(scratch.dir, 'plain'), 'x');
    await expect(
      ControlServer.start({ socketPath: join(scratch.dir, 'plain'), group: 'root', commands }),
    ).rejects.toMatchObject({ code: 'E_REFUSED' });
  });

  it('caps concurrent connections and serves again once one closes', async () => {
    const socketPath = await start({ maxConnections: 2 });
    const idle = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<ReturnType<typeof connect>>((resolve) => {
            const s = connect(socketPath, () => resolve(s));
            s.on('error', () => undefined);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 20)); // let the server count them
    await expect(callDaemon(socketPath, 'status', {}, 500)).rejects.toMatchObject({ code: 'E_PROTOCOL' });
    idle[0]?.destroy();
    await new Promise((r) => setTimeout(r, 20));
    await expect(callDaemon(socketPath, 'status')).resolves.toEqual({ selfId: 1 });
    idle[1]?.destroy();
  });

  it('times out a daemon that accepts but never answers', async () => {
    const socketPath = await start();
    await expect(callDaemon(socketPath, 'slow', {}, 10)).rejects.toMatchObject({ code: 'E_DAEMON_DOWN' });
  });
});
