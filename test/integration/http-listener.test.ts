// The HTTP listener on its own thread (src/metrics/http.ts, http-worker.ts) without a
// daemon: the routes answer from this thread's snapshots, answers that need nothing from
// the daemon come while its event loop is blocked, a blocked loop makes /health a prompt
// 503 E_TIMEOUT rather than a hung check, a taken port is one E_CONFIG error, and close()
// ends the streams and the thread. Real sockets; curl (a separate process) times the
// answers while this thread is blocked. Runs the compiled thread: `npm run build` first.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { getPriority, setPriority } from 'node:os';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpStatus } from '../../src/metrics/http-routes.js';
import { startHttp, type HttpListener, type HttpOptions } from '../../src/metrics/http.js';
import { DaemonMetrics } from '../../src/metrics/metrics.js';

const run = promisify(execFile);

const STATUS = {
  selfId: 1, role: 'master', masterId: 1, epoch: 4, members: [1, 2, 3], resources: ['YasDB'], resourceMasters: [1],
  hosts: [1, 2, 3].map((hostId) => ({ hostId, target: 'online', state: 'online', resources: [hostId === 1 ? 'primary' : 'standby'], ...(hostId === 1 ? {} : { heartbeatAgeMs: { disk: 120, net: 40 } }) })),
  incarnation: 3, eventLoopLag: null, eventLoopWakeup: null,
} as unknown as HttpStatus;

let listener: HttpListener | undefined;

afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

function options(over: Partial<HttpOptions> = {}): HttpOptions {
  return {
    address: '127.0.0.1',
    port: 0,
    metrics: new DaemonMetrics({ status: () => STATUS }, 'demo', 1, ['YasDB']),
    status: () => STATUS,
    events: () => [{ atMs: 1, kind: 'role', text: 'host 1: standby -> master at epoch 4 (test)' }],
    stepping: () => true,
    ...over,
  };
}

const url = (path: string): string => `http://127.0.0.1:${listener!.port}${path}`;

/** curl in its own process: the status code and the seconds the answer took. */
async function curl(path: string): Promise<{ code: number; seconds: number; body: string }> {
  const { stdout } = await run('curl', ['-s', '-m', '10', '-w', '\n%{http_code} %{time_total}', url(path)]);
  const lines = stdout.split('\n');
  const [code, seconds] = lines.pop()!.split(' ').map(Number);
  return { code: code!, seconds: seconds!, body: lines.join('\n') };
}

/** Blocks this thread's event loop (the daemon's, here) for `ms`. */
function blockLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('HTTP listener thread', () => {
  it('answers every route from the snapshots this thread sends', async () => {
    listener = await startHttp(options());
    const get = async (path: string, init?: RequestInit): Promise<[number, string]> => {
      const r = await fetch(url(path), init);
      return [r.status, await r.text()];
    };
    const [metricsCode, metrics] = await get('/metrics');
    expect(metricsCode).toBe(200);
    expect(metrics).toMatch(/^ycs_resource_state\{resource="YasDB",state="primary",cluster="demo",host="1"\} 1$/m);
    expect(await get('/primary')).toEqual([200, expect.stringContaining('"state":"primary"')]);
    expect((await get('/standby'))[0]).toBe(503);
    expect(await get('/primary?resource=Nope')).toEqual([404, JSON.stringify({ error: 'E_NOT_FOUND: no resource "Nope"' }) + '\n']);
    expect(await get('/health')).toEqual([200, '{"role":"master","stepping":true}\n']);
    expect(JSON.parse((await get('/cluster'))[1])).toEqual(STATUS);
    expect(await get('/nothing')).toEqual([404, expect.stringContaining('E_NOT_FOUND: /nothing')]);
    expect(await get('/health', { method: 'POST' })).toEqual([405, expect.stringContaining('E_METHOD: POST is not allowed')]);
    expect(await get('/metrics', { method: 'HEAD' })).toEqual([200, '']);
    expect((await get('/'))[1]).toContain('<html');
  });

  it('formats scrapes on its thread: the daemon thread series, the status gauges and the process series; a burst shares one', async () => {
    let statusReads = 0;
    const metrics = new DaemonMetrics({ status: () => (statusReads++, STATUS) }, 'demo', 1, ['YasDB']);
    metrics.onOutput({ kind: 'write-heartbeat', requestId: 7, disk: 0 } as never, 0);
    metrics.onInput({ kind: 'disk-write-done', requestId: 7, disk: 0, nowMs: 2 } as never);
    listener = await startHttp(options({ metrics, status: () => STATUS }));
    const [a, b] = await Promise.all([1, 2].map(() => fetch(url('/metrics')).then((r) => r.text())));
    expect(b).toBe(a);
    expect(statusReads).toBe(1);
    expect(a).toMatch(/^ycs_disk_io_seconds_count\{disk="0",op="heartbeat",cluster="demo",host="1"\} 1$/m); // fed here
    expect(a).toMatch(/^ycs_cluster_epoch\{cluster="demo",host="1"\} 4$/m); // from the status, there
    expect(a).toMatch(/^nodejs_heap_size_used_bytes\{cluster="demo",host="1"\} \d+$/m);
    const start = Number(/^process_start_time_seconds\{[^}]*\} (\d+)$/m.exec(a ?? '')?.[1]);
    expect(Math.abs(start - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2); // the process's, not the thread's
    const rss = Number(/^process_resident_memory_bytes\{[^}]*\} (\d+)$/m.exec(a ?? '')?.[1]);
    expect(rss).toBeGreaterThan(process.memoryUsage().heapUsed);
  });

  it('a wedged daemon loop: /health is a 503 E_TIMEOUT after 2 s, the page still comes at once', async () => {
    let wedged = false;
    listener = await startHttp(options({ stepping: () => (wedged ? (blockLoop(3_000), true) : true) }));
    await curl('/health'); // a warm thread
    wedged = true;
    const health = curl('/health');
    const page = curl('/');
    const [h, p] = await Promise.all([health, page]);
    expect(h.code, h.body).toBe(503);
    expect(JSON.parse(h.body)).toEqual({ error: 'E_TIMEOUT: the daemon did not answer within 2000 ms' });
    expect(h.seconds).toBeGreaterThan(1.9);
    expect(h.seconds).toBeLessThan(2.9); // before the loop is free again at 3 s
    expect(p.code).toBe(200);
    expect(p.seconds).toBeLessThan(1);
    wedged = false;
    expect((await curl('/health')).code).toBe(200);
  });

  it('a status that throws is a 503 naming the problem; the listener goes on', async () => {
    let ready = false;
    listener = await startHttp(options({ status: () => (ready ? STATUS : (() => { throw new Error('daemon part engine is not open'); })()) }));
    const early = await fetch(url('/primary'));
    expect(early.status).toBe(503);
    expect(await early.json()).toEqual({ error: 'E_INTERNAL: daemon part engine is not open' });
    ready = true;
    expect((await fetch(url('/primary'))).status).toBe(200);
  });

  it('streams {status, events} to every page, and close() ends them and stops listening', async () => {
    listener = await startHttp(options());
    const streams = await Promise.all([1, 2].map(() => fetch(url('/events'))));
    for (const s of streams) {
      expect(s.headers.get('content-type')).toBe('text/event-stream');
      const reader = s.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(JSON.parse(first.replace(/^data: /, ''))).toMatchObject({ status: { masterId: 1 }, events: [{ kind: 'role' }] });
      void reader.closed.catch(() => undefined);
    }
    const port = listener.port;
    await listener.close();
    listener = undefined;
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });

  it('its thread runs at nice 0 when the daemon runs raised (nice -10, as the unit starts it), and keeps a lower one', async () => {
    /** A thread's nice value as the kernel reports it (field 19 of /proc/self/task/<tid>/stat). */
    const niceOf = (tid: number): number => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    const own = getPriority(); // this thread's only (nice is per thread on Linux); restored below
    try {
      setPriority(-10); // a thread started now inherits -10, as the daemon's does under the unit
      listener = await startHttp(options());
      expect(listener.thread).toMatchObject({ inherited: -10, nice: 0 });
      expect(niceOf(listener.thread!.tid)).toBe(0);
      expect(getPriority()).toBe(-10); // the daemon's loop keeps its own
      await listener.close();
      setPriority(5);
      listener = await startHttp(options());
      expect(listener.thread).toMatchObject({ inherited: 5, nice: 5 });
      expect(niceOf(listener.thread!.tid)).toBe(5);
      expect((await fetch(url('/health'))).status).toBe(200);
    } finally {
      setPriority(own);
    }
  });

  it('a port already taken: one E_CONFIG error naming the address', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(startHttp(options({ port }))).rejects.toThrow(`http: cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
    } finally {
      taken.close();
    }
  });
});
