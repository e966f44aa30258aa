// The HTTP listener's routes (docs/metrics.md), answered from snapshots of the daemon:
//   GET /metrics                 Prometheus text format
//   GET /primary[?resource=R]    200 only where R (default: the first resource) is primary on the master
//   GET /standby[?resource=R]    200 only where R runs as a standby
//   GET /health                  200 while the engine steps and the host is a member (starting, standby, master)
//   GET /cluster                 the status as JSON (what `ycsctl status --json` shows)
//   GET /                        the live topology page (page.ts), fed by
//   GET /events                  server-sent events: {status, events} every 500 ms
// Every answer is small; anything else is 404, a method other than GET/HEAD 405.
// Pure: the listener's thread (http-worker.ts) routes a request here, asks the daemon's
// thread for the snapshot the route names, and answers with what the route makes of it.
import type { StatusResult } from '../core/view.js';
import type { ClusterEvent } from './events.js';
import type { ScrapeInput } from './scrape.js';
import type { ThreadPriority } from './thread-priority.js';
import { PAGE_HTML } from './page.js';

export type HttpStatus = StatusResult & { cluster?: string; arbitration?: string };

/** What the daemon's thread sends for each kind of question. */
export interface Snapshots {
  status: { status: HttpStatus; stepping: boolean };
  metrics: ScrapeInput; // formatted on the listener's thread (scrape.ts)
  stream: { status: HttpStatus; events: ClusterEvent[] };
}
export type Need = keyof Snapshots;

/** Listener thread -> daemon thread. */
export interface Ask {
  kind: 'ask';
  id: number;
  need: Need;
}

/** Daemon thread -> listener thread: the snapshot, or why there is none (`CODE: message`). */
export type Reply = { kind: 'reply'; id: number; snapshot: Snapshots[Need] } | { kind: 'reply'; id: number; error: string };

/** What the listener thread starts with. */
export interface HttpWorkerData {
  address: string;
  port: number;
  /** DaemonMetrics.constantLabels: the cluster and host labels on every series. */
  constantLabels: string;
}

/** Listener thread -> daemon thread, besides `ask`. */
export type WorkerEvent = { kind: 'listening'; port: number; priority: ThreadPriority | null } | { kind: 'listen-failed'; code: string };

/** Daemon thread -> listener thread, besides `reply`: close the listener and exit. */
export interface CloseRequest {
  kind: 'close';
}

export interface Answer {
  code: number;
  body: string;
  type?: string;
}

export type Route =
  | { kind: 'now'; answer: Answer }
  | { kind: 'ask'; need: 'status'; answer: (s: Snapshots['status']) => Answer }
  | { kind: 'metrics' } // the listener's thread formats the scrape (scrape.ts)
  | { kind: 'stream' };

export function json(code: number, value: unknown): Answer {
  return { code, body: `${JSON.stringify(value)}\n`, type: 'application/json' };
}

/** Whether resource `name` (default the first) is in `state` on this host; the answer's body says why. */
function resourceCheck(s: HttpStatus, name: string | null, state: 'primary' | 'standby'): Answer {
  const index = name === null ? 0 : s.resources.indexOf(name);
  const resource = s.resources[index];
  if (resource === undefined) return json(404, { error: name === null ? 'E_NOT_FOUND: no resource is configured' : `E_NOT_FOUND: no resource ${JSON.stringify(name)}` });
  const own = s.hosts.find((h) => h.hostId === s.selfId)?.resources[index];
  const ok = own === state && (state !== 'primary' || s.role === 'master');
  return json(ok ? 200 : 503, { resource, state: own, role: s.role, epoch: s.epoch, masterId: s.masterId });
}

export function route(method: string | undefined, rawUrl: string | undefined): Route {
  if (method !== 'GET' && method !== 'HEAD') return { kind: 'now', answer: json(405, { error: `E_METHOD: ${String(method)} is not allowed` }) };
  const url = new URL(rawUrl ?? '/', 'http://ycs');
  const resource = url.searchParams.get('resource');
  switch (url.pathname) {
    case '/metrics':
      return { kind: 'metrics' };
    case '/primary':
      return { kind: 'ask', need: 'status', answer: (s) => resourceCheck(s.status, resource, 'primary') };
    case '/standby':
      return { kind: 'ask', need: 'status', answer: (s) => resourceCheck(s.status, resource, 'standby') };
    case '/health':
      return {
        kind: 'ask',
        need: 'status',
        answer: ({ status, stepping }) => {
          const member = status.role === 'starting' || status.role === 'standby' || status.role === 'master';
          return json(stepping && member ? 200 : 503, { role: status.role, stepping });
        },
      };
    case '/cluster':
      return { kind: 'ask', need: 'status', answer: (s) => json(200, s.status) };
    case '/events':
      return method === 'GET' ? { kind: 'stream' } : { kind: 'now', answer: { code: 200, body: '', type: 'text/event-stream' } };
    case '/':
      return { kind: 'now', answer: { code: 200, body: PAGE_HTML, type: 'text/html; charset=utf-8' } };
    default:
      return { kind: 'now', answer: json(404, { error: `E_NOT_FOUND: ${url.pathname}` }) };
  }
}
