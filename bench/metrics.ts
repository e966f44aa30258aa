// The daemon's event-loop lag with the HTTP listener off and on (issue 12: metrics must not
// cost the heartbeats their timing): a local 3-host cluster (file voting disk, demo
// database) per run, in five cases: without `http` (the reference); with it while a scraper
// reads /metrics of every host every 250 ms (the hosts' scrapes spread over it) and a live
// page's event stream is open on each; at 1 scrape/s (still 15 times Prometheus' default)
// with no stream; with it and no reader at all (what the listener costs by being on);
// without it again (how far two runs of the same setting land apart: a difference below
// that is not one this bench can see). Each daemon reports the p50/p99/max lag of its last
// full 10 s window in `status` by two measures (src/metrics/loop-lag.ts): a 10 ms timer's,
// which libuv's millisecond clock raises with every wake-up, and the wake-up delay; a run
// reads WINDOWS consecutive windows of every host once the cluster settled. The cases are
// interleaved for ROUNDS rounds (the machine's load drifts between minutes, which is as
// large as the effect), and each case's figure is the median over all its windows, with the
// range beside it. The hosts run at the packaged unit's priority (nice -10, as installed
// daemons do; the scraper, which in production is another machine's Prometheus, stays at
// nice 0 here), or with `--priority none` at nice 0 like everything else.
// npm run bench:metrics [-- --rounds N --windows N --priority unit|none]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { callDaemon } from '../src/control/client.js';
import { agreedMaster, startLocalCluster, type LocalCluster } from '../src/demo/cluster.js';
import { LAG_WINDOW_MS, type LagFigures } from '../src/metrics/loop-lag.js';
import { rangeCell } from './failover/stats.js';
import { describePriority, isPriority, priorityOption, type Priority } from './priority.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const priorityArg = process.argv.indexOf('--priority');
const priorityValue = priorityArg >= 0 ? process.argv[priorityArg + 1] : 'unit';
if (!isPriority(priorityValue)) {
  process.stderr.write(`E_INVALID_ARGUMENT: --priority takes unit or none, got ${String(priorityValue)}\n`);
  process.exit(2);
}
const PRIORITY: Priority = priorityValue;
const ROUNDS = arg('rounds', 3);
const WINDOWS = arg('windows', 3);

/** A window's two measures (src/metrics/loop-lag.ts): the 10 ms timer's lag, the wake-up delay. */
interface Window { timer: LagFigures; wakeup: LagFigures }

async function lagOf(cluster: LocalCluster): Promise<Window[]> {
  const out: Window[] = [];
  for (const h of cluster.hosts) {
    const s = (await callDaemon(h.socketPath, 'status', {})) as { eventLoopLag: LagFigures | null; eventLoopWakeup: LagFigures | null };
    if (s.eventLoopLag !== null && s.eventLoopWakeup !== null) out.push({ timer: s.eventLoopLag, wakeup: s.eventLoopWakeup });
  }
  return out;
}

interface Case { name: string; http: boolean; scrapeMs: number; streamsPerHost: number }

/** One cluster run of `c`: the lag of WINDOWS consecutive 10 s windows of every host. */
async function run(c: Case): Promise<Window[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ycs-bench-metrics-'));
  const cluster = await startLocalCluster({ dir, hosts: 3, resources: ['YasDB'], http: c.http, ...priorityOption(PRIORITY) });
  const streams: AbortController[] = [];
  let scraping = true;
  try {
    await cluster.waitFor((s) => agreedMaster(s), 30_000, 'a master');
    if (c.http) {
      for (const h of cluster.hosts.slice(0, c.streamsPerHost === 0 ? 0 : undefined)) {
        const ac = new AbortController();
        streams.push(ac);
        void fetch(`${h.httpUrl}/events`, { signal: ac.signal }).then(async (r) => { for await (const _ of r.body ?? []) { /* drain */ } }).catch(() => undefined);
      }
      // Each host on its own schedule, the hosts' phases spread over the interval, as
      // Prometheus spreads its targets' scrapes (and as on real hosts, where no two daemons
      // answer a scrape on the same CPUs): three daemons answering the same instant on this
      // 2-core machine would measure the machine, not a daemon.
      const scrapeEvery = async (url: string, phaseMs: number): Promise<void> => {
        await sleep(phaseMs);
        let next = performance.now();
        while (scraping) {
          await fetch(url).then((r) => r.text()).catch(() => '');
          next += c.scrapeMs;
          await sleep(Math.max(0, next - performance.now()));
        }
      };
      if (c.scrapeMs > 0) cluster.hosts.forEach((h, i) => void scrapeEvery(`${h.httpUrl}/metrics`, (c.scrapeMs * i) / cluster.hosts.length));
    }
    await sleep(2 * LAG_WINDOW_MS + 2_000); // the first window read starts after the cluster settled
    const lag: Window[] = [];
    for (let w = 0; w < WINDOWS; w++) {
      if (w > 0) await sleep(LAG_WINDOW_MS); // the next window (the daemon rolls one every 10 s)
      lag.push(...(await lagOf(cluster)));
    }
    return lag;
  } finally {
    scraping = false;
    for (const ac of streams) ac.abort();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const CASES: Case[] = [
  { name: 'metrics off', http: false, scrapeMs: 0, streamsPerHost: 0 },
  { name: 'metrics on, 4 scrapes/s + 3 streams', http: true, scrapeMs: 250, streamsPerHost: 1 },
  { name: 'metrics on, 1 scrape/s, no stream', http: true, scrapeMs: 1000, streamsPerHost: 0 },
  { name: 'metrics on, never scraped', http: true, scrapeMs: 0, streamsPerHost: 0 },
  // The same as the first case: how far two runs of one setting land apart (the noise).
  { name: 'metrics off, again', http: false, scrapeMs: 0, streamsPerHost: 0 },
];
const results = new Map<string, Window[]>(CASES.map((c) => [c.name, []]));
for (let round = 1; round <= ROUNDS; round++) {
  for (const c of CASES) {
    const lag = await run(c);
    results.get(c.name)?.push(...lag);
    process.stdout.write(`round ${round} ${c.name}: p99 timer ${lag.map((x) => x.timer.p99Ms.toFixed(2)).join(' ')}  wake-up ${lag.map((x) => x.wakeup.p99Ms.toFixed(2)).join(' ')} ms\n`);
  }
}
const cell = (xs: LagFigures[], k: keyof LagFigures): string => rangeCell(xs.map((x) => x[k]), 2);
for (const measure of ['timer', 'wakeup'] as const) {
  const title = measure === 'timer' ? 'what a 10 ms timer fires late (monitorEventLoopDelay, libuv\'s ms clock)' : 'how long a post from another thread waits for the loop (the addon\'s probe)';
  process.stdout.write(`daemon event-loop lag, ${title}, ms: median (min-max) over ${ROUNDS} rounds x ${WINDOWS} windows x 3 hosts of 10 s windows; hosts' priority ${describePriority(PRIORITY)}\n`);
  for (const c of CASES) {
    const xs = (results.get(c.name) ?? []).map((w) => w[measure]);
    process.stdout.write(`  ${c.name.padEnd(38)} p50 ${cell(xs, 'p50Ms')}   p99 ${cell(xs, 'p99Ms')}   max ${cell(xs, 'maxMs')}   (${xs.length} windows)\n`);
  }
}
