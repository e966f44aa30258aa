// The daemon's HTTP listener (off unless `http` is configured; docs/metrics.md): Prometheus
// metrics and the health endpoints a load balancer checks, Patroni style.
//   GET /metrics                 Prometheus text format
//   GET /primary[?resource=R]    200 only where R (default: the first resource) is primary on the master
//   GET /standby[?resource=R]    200 only where R runs as a standby
//   GET /health                  200 while the engine steps and the host is a member (starting, standby, master)
//   GET /cluster                 the status as JSON (what `ycsctl status --json` shows)
// Every answer is small; anything else is 404, a method other than GET/HEAD 405.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { StatusResult } from '../core/view.js';
import { YcsError } from '../errors.js';
import type { DaemonMetrics } from './metrics.js';

export interface HttpOptions {
  address: string;
  port: number;
  metrics: DaemonMetrics;
  status: () => StatusResult;
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
    default:
      return json(404, { error: `E_NOT_FOUND: ${url.pathname}` });
  }
}

export async function startHttp(o: HttpOptions): Promise<Server> {
  const server = createServer((req, res: ServerResponse) => {
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
  server.requestTimeout = 5_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new YcsError('E_CONFIG', `http: cannot listen on ${o.address}:${o.port} (${err.code ?? err.message})`)));
    server.listen(o.port, o.address, () => resolve());
  });
  return server;
}
