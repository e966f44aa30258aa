// The daemon's event-loop lag with the HTTP listener off and on (issue 12: metrics must not
// cost the heartbeats their timing): a local 3-host cluster (file voting disk, demo
// database) runs for a 10 s window after it is healthy, first without `http`, then with it
// while a scraper reads /metrics of every host every 250 ms and a live page's event stream
// is open on each, and once more at 1 scrape/s (still 15 times Prometheus' default) with no
// stream. Each daemon reports the p50/p99/max lag of its last full 10 s window in
// `status` (src/daemon/daemon.ts). npm run bench:metrics
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { callDaemon } from '../src/control/client.js';
import { agreedMaster, startLocalCluster, type LocalCluster } from '../src/demo/cluster.js';

interface Lag { p50Ms: number; p99Ms: number; maxMs: number }

async function lagOf(cluster: LocalCluster): Promise<Lag[]> {
  const out: Lag[] = [];
  for (const h of cluster.hosts) {
    const s = (await callDaemon(h.socketPath, 'status', {})) as { eventLoopLag: Lag | null };
    if (s.eventLoopLag !== null) out.push(s.eventLoopLag);
  }
  return out;
}

/** `scrapeMs`: each host's /metrics read every this many ms; `streams`: open live-page streams per host. */
async function run(http: boolean, scrapeMs = 250, streamsPerHost = 1): Promise<Lag[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ycs-bench-metrics-'));
  const cluster = await startLocalCluster({ dir, hosts: 3, resources: ['YasDB'], http });
  const streams: AbortController[] = [];
  let scraping = true;
  let scrapes = 0;
  try {
    await cluster.waitFor((s) => agreedMaster(s), 30_000, 'a master');
    if (http) {
      for (const h of cluster.hosts.slice(0, streamsPerHost === 0 ? 0 : undefined)) {
        const ac = new AbortController();
        streams.push(ac);
        void fetch(`${h.httpUrl}/events`, { signal: ac.signal }).then(async (r) => { for await (const _ of r.body ?? []) { /* drain */ } }).catch(() => undefined);
      }
      void (async () => {
        while (scraping) {
          await Promise.all(cluster.hosts.map((h) => fetch(`${h.httpUrl}/metrics`).then((r) => r.text()).catch(() => '')));
          scrapes += 1;
          await sleep(scrapeMs);
        }
      })();
    }
    await sleep(22_000); // two full windows: the reported one starts after the cluster settled
    const lag = await lagOf(cluster);
    if (http) process.stdout.write(`  (${scrapes} scrapes of 3 hosts, ${streams.length} event streams open)\n`);
    return lag;
  } finally {
    scraping = false;
    for (const ac of streams) ac.abort();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (xs: Lag[], k: keyof Lag): string => xs.map((x) => x[k].toFixed(2)).join(' / ');
const off = await run(false);
const on = await run(true);
const calm = await run(true, 1000, 0);
process.stdout.write('daemon event-loop lag over a 10 s window, ms (host 1 / 2 / 3)\n');
process.stdout.write(`  metrics off: p50 ${fmt(off, 'p50Ms')}   p99 ${fmt(off, 'p99Ms')}   max ${fmt(off, 'maxMs')}\n`);
process.stdout.write(`  metrics on, 4 scrapes/s + 3 streams:  p50 ${fmt(on, 'p50Ms')}   p99 ${fmt(on, 'p99Ms')}   max ${fmt(on, 'maxMs')}\n`);
process.stdout.write(`  metrics on, 1 scrape/s, no stream:   p50 ${fmt(calm, 'p50Ms')}   p99 ${fmt(calm, 'p99Ms')}   max ${fmt(calm, 'maxMs')}\n`);
