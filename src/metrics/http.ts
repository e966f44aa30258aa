// The daemon's HTTP listener (off unless `http` is configured; docs/metrics.md): Prometheus
// metrics and the health endpoints a load balancer checks, Patroni style.
//   GET /metrics                 Prometheus text format
//   GET /primary[?resource=R]    200 only where R (default: the first resource) is primary on the master
//   GET /standby[?resource=R]    200 only where R runs as a standby
//   GET /health                  200 while the engine steps and the host is a member (starting, standby, master)
//   GET /cluster                 the status as JSON (what `ycsctl status --json` shows)
//   GET /                        the live topology page (page.ts), fed by
//   GET /events                  server-sent events: {status, events} every 500 ms
// Every answer is small; anything else is 404, a method other than GET/HEAD 405.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { StatusResult } from '../core/view.js';
import { YcsError } from '../errors.js';
import type { ClusterEvent } from './events.js';
import type { DaemonMetrics } from './metrics.js';
import { PAGE_HTML } from './page.js';

export interface HttpOptions {
  address: string;
  port: number;
  metrics: DaemonMetrics;
  status: () => StatusResult & { cluster?: string; arbitration?: string };
  /** The recent cluster events for the live page. */
  events: () => ClusterEvent[];
  /** The engine stepped recently (not wedged). */
  stepping: () => boolean;
}

type Answer = { code: number; body: string; type?: string };

function json(code: number, value: unknown): Answer {
  return { code, body: `${JSON.stringify(value)}\n`, type: 'application/json' };
}

/** Whether resource `name` (default the first) is in `state` on this host; the answer's body says why. */
function resourceCheck(s: StatusResult, name: string | null, state: 'primary' | 'standby'): Answer {
  const index = name === null ? 0 : s.resources.indexOf(name);
  const resource = s.resources[index];
  if (resource === undefined) return json(404, { error: name === null ? 'E_NOT_FOUND: no resource is configured' : `E_NOT_FOUND: no resource ${JSON.stringify(name)}` });
  const own = s.hosts.find((h) => h.hostId === s.selfId)?.resources[index];
  const ok = own === state && (state !== 'primary' || s.role === 'master');
  return json(ok ? 200 : 503, { resource, state: own, role: s.role, epoch: s.epoch, masterId: s.masterId });
}

export async function answer(req: IncomingMessage, o: HttpOptions): Promise<Answer> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: `E_METHOD: ${req.method} is not allowed` });
  const url = new URL(req.url ?? '/', 'http://ycs');
  switch (url.pathname) {
    case '/metrics':
      return { code: 200, body: await o.metrics.text(), type: o.metrics.contentType };
    case '/primary':
      return resourceCheck(o.status(), url.searchParams.get('resource'), 'primary');
    case '/standby':
      return resourceCheck(o.status(), url.searchParams.get('resource'), 'standby');
    case '/health': {
      const s = o.status();
      const ok = o.stepping() && (s.role === 'starting' || s.role === 'standby' || s.role === 'master');
      return json(ok ? 200 : 503, { role: s.role, stepping: o.stepping() });
    }
    case '/cluster':
      return json(200, o.status());
    case '/':
      return { code: 200, body: PAGE_HTML, type: 'text/html; charset=utf-8' };
    default:
      return json(404, { error: `E_NOT_FOUND: ${url.pathname}` });
  }
}

const STREAM_PERIOD_MS = 500;
const MAX_STREAMS = 32;

/** Server-sent events: the status and recent events now and every STREAM_PERIOD_MS. */
function stream(res: ServerResponse, o: HttpOptions, streams: Set<ServerResponse>): void {
  if (streams.size >= MAX_STREAMS) {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify({ error: `E_BUSY: at most ${MAX_STREAMS} live pages at once` })}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  streams.add(res);
  const push = (): void => {
    try {
      res.write(`data: ${JSON.stringify({ status: o.status(), events: o.events() })}\n\n`);
    } catch {
      res.write(': not ready\n\n'); // the daemon is still opening: the page keeps waiting
    }
  };
  push();
  const timer = setInterval(push, STREAM_PERIOD_MS);
  res.on('close', () => {
    clearInterval(timer);
    streams.delete(res);
  });
}

export async function startHttp(o: HttpOptions): Promise<Server> {
  const streams = new Set<ServerResponse>();
  const server = createServer((req, res: ServerResponse) => {
    if (req.method === 'GET' && new URL(req.url ?? '/', 'http://ycs').pathname === '/events') return stream(res, o, streams);
    answer(req, o).then(
      (a) => {
        res.writeHead(a.code, { 'content-type': a.type ?? 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : a.body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ error: `E_INTERNAL: ${(err as Error).message}` })}\n`);
      },
    );
  });
  server.on('close', () => {
    for (const res of streams) res.destroy();
  });
  server.requestTimeout = 0; // the event stream stays open; headers still have a deadline
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new YcsError('E_CONFIG', `http: cannot listen on ${o.address}:${o.port} (${err.code ?? err.message})`)));
    server.listen(o.port, o.address, () => resolve());
  });
  return server;
}
