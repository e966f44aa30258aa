// What the two lag measures of src/metrics/loop-lag.ts see when the loop does almost
// nothing but wake up: one process with the daemon's DaemonMetrics and HTTP listener (fed a
// fixed 3-host status) and both measures (a 10 ms timer's lateness, monitorEventLoopDelay;
// the addon's wake-up probe), and a sender process that, in turn, sends nothing (idle),
// one UDP datagram every 250 ms to a socket whose handler does nothing (a bare wake-up), a
// GET /health (the HTTP request alone: a small JSON answer) or a GET /metrics (a scrape)
// every 250 ms over keep-alive. The cases alternate for ROUNDS rounds of WINDOW_MS each;
// prints each case's p99 per window and the medians.
// If a bare wake-up raises the timer's p99 as much as a scrape does, that measure shows the
// wake-ups (libuv's millisecond timer clock), not the scrape's work; the probe shows the work,
// and /health beside /metrics splits it into the HTTP request's share and the metrics'.
// npm run bench:wakeups [-- --rounds N]
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { StatusResult } from '../src/core/view.js';
import { startHttp } from '../src/metrics/http.js';
import type { LoopProbeNative } from '../src/metrics/loop-lag.js';
import { DaemonMetrics } from '../src/metrics/metrics.js';
import { loadNative } from '../src/native.js';
import { rangeCell } from './failover/stats.js';

const PERIOD_MS = 250;
const WINDOW_MS = 8_000;

type Target = { kind: 'idle' } | { kind: 'udp'; port: number } | { kind: 'http'; url: string };

/** The sender: sends to whatever target the parent names, every PERIOD_MS. */
async function sender(): Promise<void> {
  const socket = dgram.createSocket('udp4');
  let target = { kind: 'idle' } as Target;
  process.on('message', (t: Target) => (target = t));
  process.on('disconnect', () => process.exit(0));
  let next = performance.now();
  for (;;) {
    const t = target;
    if (t.kind === 'udp') socket.send('x', t.port, '127.0.0.1');
    else if (t.kind === 'http') await fetch(t.url).then((r) => r.text()).catch(() => '');
    next += PERIOD_MS;
    await sleep(Math.max(0, next - performance.now()));
  }
}

const STATUS = {
  selfId: 1, role: 'master', masterId: 1, epoch: 4, members: [1, 2, 3], resources: ['YasDB'], resourceMasters: [1],
  hosts: [1, 2, 3].map((hostId) => ({ hostId, state: 'online', resources: [hostId === 1 ? 'primary' : 'standby'], ...(hostId === 1 ? {} : { heartbeatAgeMs: { disk: 120, net: 40 } }) })),
  incarnation: 2, eventLoopLag: { p50Ms: 0.1, p99Ms: 1, maxMs: 2 }, eventLoopWakeup: { p50Ms: 0.03, p99Ms: 0.1, maxMs: 1 },
  net: { dropped: { malformed: 0, replayed: 0 }, forged: 0 },
} as unknown as StatusResult;

async function main(): Promise<void> {
  const i = process.argv.indexOf('--rounds');
  const rounds = i >= 0 ? Number(process.argv[i + 1]) : 4;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`E_INVALID_ARGUMENT: --rounds takes a whole number above 0, got ${process.argv[i + 1]}`);
  const metrics = new DaemonMetrics({ status: () => structuredClone(STATUS) }, 'bench', 1, ['YasDB']);
  const server = await startHttp({ address: '127.0.0.1', port: 0, metrics, status: () => structuredClone(STATUS), events: () => [], stepping: () => true });
  const udp = dgram.createSocket('udp4');
  udp.on('message', () => undefined);
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const child = fork(fileURLToPath(import.meta.url), ['sender']);
  const timer = monitorEventLoopDelay({ resolution: 10 });
  timer.enable();
  const probe = loadNative<LoopProbeNative>().startLoopProbe(10);
  const cases: [string, Target][] = [
    ['idle', { kind: 'idle' }],
    ['a UDP wake-up every 250 ms', { kind: 'udp', port: (udp.address() as AddressInfo).port }],
    ['GET /health every 250 ms', { kind: 'http', url: `http://127.0.0.1:${server.port}/health` }],
    ['GET /metrics every 250 ms', { kind: 'http', url: `http://127.0.0.1:${server.port}/metrics` }],
  ];
  const p99 = new Map<string, { timer: number[]; wakeup: number[] }>(cases.map(([name]) => [name, { timer: [], wakeup: [] }]));
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const [name, target] of cases) {
        child.send(target);
        await sleep(500); // the sender's first sends (a connection, a warm handler)
        timer.reset();
        probe.take();
        await sleep(WINDOW_MS);
        const t = Math.max(0, timer.percentile(99) / 1e6 - 10);
        const w = probe.take().p99Ms ?? NaN;
        p99.get(name)?.timer.push(t);
        p99.get(name)?.wakeup.push(w);
        process.stdout.write(`round ${round} ${name.padEnd(28)} p99 timer ${t.toFixed(2)} ms   wake-up ${w.toFixed(3)} ms\n`);
      }
    }
  } finally {
    child.disconnect();
    probe.stop();
    await server.close();
    udp.close();
  }
  process.stdout.write(`p99 of ${WINDOW_MS / 1000} s windows, median (min-max) over ${rounds} rounds, ms:\n`);
  for (const [name] of cases) {
    const x = p99.get(name) ?? { timer: [], wakeup: [] };
    process.stdout.write(`  ${name.padEnd(28)} 10 ms timer ${rangeCell(x.timer, 2)}   wake-up probe ${rangeCell(x.wakeup, 3)}\n`);
  }
}

if (process.argv[2] === 'sender') await sender();
else await main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
});
