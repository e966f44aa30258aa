// The daemon's HTTP listener (off unless `http` is configured; docs/metrics.md): Prometheus
// metrics, the health endpoints a load balancer checks (Patroni style) and the live page.
// The listener runs on its own thread (http-worker.ts, routes in http-routes.ts) so that
// parsing requests and writing answers never holds the daemon's event loop; this side only
// answers the thread's questions with a snapshot: the status, its own half of a scrape
// (scrape.ts: the series fed by the engine steps, collected; the thread formats the text),
// or the status with the recent events. If the thread dies it is started again after a second.
import type { Logger } from 'pino';
import { Worker } from 'node:worker_threads';
import { YcsError, toYcsError } from '../errors.js';
import type { ClusterEvent } from './events.js';
import type { Ask, CloseRequest, HttpStatus, HttpWorkerData, Need, Reply, Snapshots, WorkerEvent } from './http-routes.js';
import type { DaemonMetrics } from './metrics.js';
import type { ThreadPriority } from './thread-priority.js';

export interface HttpOptions {
  address: string;
  port: number;
  metrics: DaemonMetrics;
  status: () => HttpStatus;
  /** The recent cluster events for the live page. */
  events: () => ClusterEvent[];
  /** The engine stepped recently (not wedged). */
  stepping: () => boolean;
  logger?: Logger;
}

export interface HttpListener {
  /** The port it listens on (the configured one, or the one the system picked for 0). */
  readonly port: number;
  /** The listener thread's id and nice value (thread-priority.ts), null off Linux. */
  readonly thread: ThreadPriority | null;
  /** Stops listening, ends every open stream and the thread. */
  close(): Promise<void>;
}

// Run from the TypeScript sources (vitest), the thread is the compiled one: `npm run build` first.
const WORKER_URL = import.meta.url.endsWith('.ts') ? new URL('../../dist/src/metrics/http-worker.js', import.meta.url) : new URL('./http-worker.js', import.meta.url);
const RESTART_DELAY_MS = 1_000;
const CLOSE_GRACE_MS = 2_000;
// A thread that only parses small requests: a small heap is plenty, and bounds what it can take.
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 };

async function snapshot(o: HttpOptions, need: Need): Promise<Snapshots[Need]> {
  switch (need) {
    case 'status':
      return { status: o.status(), stepping: o.stepping() };
    case 'metrics':
      return o.metrics.scrapeInput();
    case 'stream':
      return { status: o.status(), events: o.events() };
  }
}

async function reply(worker: Worker, o: HttpOptions, ask: Ask): Promise<void> {
  let message: Reply;
  try {
    message = { kind: 'reply', id: ask.id, snapshot: await snapshot(o, ask.need) };
  } catch (err) {
    const e = toYcsError(err); // e.g. a part of the daemon not open yet
    message = { kind: 'reply', id: ask.id, error: `${e.code}: ${e.message}` };
  }
  try {
    worker.postMessage(message);
  } catch (err) {
    worker.postMessage({ kind: 'reply', id: ask.id, error: `E_INTERNAL: cannot send the snapshot: ${(err as Error).message}` } satisfies Reply);
  }
}

/** Starts the thread; resolves once it listens, rejects with E_CONFIG when it cannot. */
function startWorker(o: HttpOptions, port: number, onDeath: (worker: Worker, why: string) => void): Promise<{ worker: Worker; port: number; thread: ThreadPriority | null }> {
  const worker = new Worker(WORKER_URL, { workerData: { address: o.address, port, constantLabels: o.metrics.constantLabels } satisfies HttpWorkerData, resourceLimits: RESOURCE_LIMITS });
  return new Promise((resolve, reject) => {
    let listening = false;
    worker.on('message', (m: Ask | WorkerEvent) => {
      if (m.kind === 'ask') void reply(worker, o, m);
      else if (m.kind === 'listening') {
        listening = true;
        resolve({ worker, port: m.port, thread: m.priority });
      } else {
        reject(new YcsError('E_CONFIG', `http: cannot listen on ${o.address}:${port} (${m.code})`));
        void worker.terminate();
      }
    });
    worker.on('error', (err) => (listening ? onDeath(worker, `error: ${err.message}`) : reject(new YcsError('E_INTERNAL', `http: the listener thread failed to start: ${err.message}`))));
    worker.on('exit', (code) => {
      if (listening) onDeath(worker, `exit code ${code}`);
      else reject(new YcsError('E_INTERNAL', `http: the listener thread exited with code ${code} before listening`));
    });
  });
}

export async function startHttp(o: HttpOptions): Promise<HttpListener> {
  let closing = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let current: Worker | undefined;
  const restartLater = (why: string): void => {
    current = undefined;
    if (closing) return;
    o.logger?.error({ why }, `http listener thread stopped (${why}); starting it again in ${RESTART_DELAY_MS} ms`);
    restartTimer = setTimeout(() => {
      startWorker(o, bound, onDeath).then(
        (w) => (closing ? void w.worker.terminate() : (current = w.worker)),
        (err: unknown) => restartLater(`restart failed: ${(err as Error).message}`),
      );
    }, RESTART_DELAY_MS);
  };
  const onDeath = (worker: Worker, why: string): void => {
    if (worker === current) restartLater(why); // 'error' and then 'exit' of one thread: one restart
  };
  const first = await startWorker(o, o.port, onDeath);
  current = first.worker;
  const bound = first.port; // a restart listens where the first one did, also when the config said 0
  o.logger?.info({ address: o.address, port: bound, thread: first.thread }, `http listener on ${o.address}:${bound}, its thread at nice ${first.thread?.nice ?? 'unchanged'}`);
  return {
    port: bound,
    thread: first.thread,
    async close() {
      closing = true;
      clearTimeout(restartTimer);
      const worker = current;
      if (worker === undefined) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ kind: 'close' } satisfies CloseRequest);
      const grace = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS);
      await exited;
      clearTimeout(grace);
    },
  };
}
