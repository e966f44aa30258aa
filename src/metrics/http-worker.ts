// The HTTP listener's own thread (started by http.ts): parsing requests, routing them
// (http-routes.ts), formatting the metrics text (scrape.ts: the status gauges and process
// series are collected here too) and writing answers and event streams happen here, off the
// daemon's event loop, which only answers `ask` messages with a snapshot (docs/metrics.md,
// Cost). A question the daemon does not answer within ASK_TIMEOUT_MS gets a 503: a wedged
// daemon is not healthy, and a load balancer learns it at once instead of at its own check
// timeout. The thread first lowers its own priority below the daemon's (thread-priority.ts).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { CONTENT_TYPE } from './exposition.js';
import { ScrapeText } from './scrape.js';
import { lowerThreadPriority } from './thread-priority.js';
import { json, route, type Answer, type CloseRequest, type HttpWorkerData, type Need, type Reply, type Snapshots, type WorkerEvent } from './http-routes.js';

const ASK_TIMEOUT_MS = 2_000;
const STREAM_PERIOD_MS = 500;
const MAX_STREAMS = 32;

class AskError extends Error {}

const port = parentPort!;
const pending = new Map<number, (reply: Reply) => void>();
let lastId = 0;

function ask<N extends Need>(need: N): Promise<Snapshots[N]> {
  return new Promise((resolve, reject) => {
    const id = ++lastId;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new AskError(`E_TIMEOUT: the daemon did not answer within ${ASK_TIMEOUT_MS} ms`));
    }, ASK_TIMEOUT_MS);
    pending.set(id, (reply) => {
      clearTimeout(timer);
      if ('error' in reply) reject(new AskError(reply.error));
      else resolve(reply.snapshot as Snapshots[N]);
    });
    port.postMessage({ kind: 'ask', id, need });
  });
}

function send(req: IncomingMessage, res: ServerResponse, a: Answer): void {
  res.writeHead(a.code, { 'content-type': a.type ?? 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : a.body);
}

function failure(err: unknown): Answer {
  // The daemon not answering, or not ready yet (still opening), is "unavailable"; anything else is ours.
  return err instanceof AskError ? json(503, { error: err.message }) : json(500, { error: `E_INTERNAL: ${(err as Error).message}` });
}

/**
 * The live pages' streams share one question per period: every open stream gets the same
 * {status, events} line, now when it opens and every STREAM_PERIOD_MS.
 */
class Streams {
  private readonly open = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;

  add(res: ServerResponse): void {
    if (this.open.size >= MAX_STREAMS) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ error: `E_BUSY: at most ${MAX_STREAMS} live pages at once` })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    this.open.add(res);
    res.on('close', () => {
      this.open.delete(res);
      if (this.open.size === 0) this.stop();
    });
    void this.push([res]);
    this.timer ??= setInterval(() => void this.push([...this.open]), STREAM_PERIOD_MS);
  }

  closeAll(): void {
    this.stop();
    for (const res of this.open) res.destroy();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async push(to: ServerResponse[]): Promise<void> {
    // ': not ready' is a comment line: the page keeps waiting while the daemon opens or is busy.
    const line = await ask('stream').then((s) => `data: ${JSON.stringify(s)}\n\n`, () => ': not ready\n\n');
    for (const res of to) if (!res.destroyed) res.write(line);
  }
}

function main(): void {
  const { address, port: listenPort, constantLabels } = workerData as HttpWorkerData;
  const priority = lowerThreadPriority();
  const streams = new Streams();
  const scrape = new ScrapeText(constantLabels);
  const server = createServer((req, res) => {
    const r = route(req.method, req.url);
    if (r.kind === 'now') return send(req, res, r.answer);
    if (r.kind === 'stream') return streams.add(res);
    if (r.kind === 'metrics') {
      return void scrape.text(() => ask('metrics')).then((text) => send(req, res, { code: 200, body: text, type: CONTENT_TYPE }), (err: unknown) => send(req, res, failure(err)));
    }
    const answer = r.answer as (s: Snapshots[Need]) => Answer;
    ask(r.need).then((s) => send(req, res, answer(s)), (err: unknown) => send(req, res, failure(err)));
  });
  server.requestTimeout = 0; // the event stream stays open; headers still have a deadline
  server.headersTimeout = 5_000;
  server.once('error', (err: NodeJS.ErrnoException) => port.postMessage({ kind: 'listen-failed', code: err.code ?? err.message } satisfies WorkerEvent));
  server.listen(listenPort, address, () => {
    const bound = server.address();
    port.postMessage({ kind: 'listening', port: typeof bound === 'object' && bound !== null ? bound.port : listenPort, priority } satisfies WorkerEvent);
  });
  port.on('message', (m: Reply | CloseRequest) => {
    if (m.kind === 'reply') {
      const settle = pending.get(m.id);
      pending.delete(m.id);
      settle?.(m);
      return;
    }
    streams.closeAll();
    server.closeAllConnections();
    server.close(() => port.close());
  });
}

main();
