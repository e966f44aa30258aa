// One scrape's exposition, put together from two halves (docs/metrics.md, Cost): the series
// only the daemon's thread can collect (its counters and latency histograms, fed by every
// engine step, and its isolate's heap), handed over as collected values, and the series
// any thread can collect, collected here: the gauges read from the status (status-metrics.ts)
// and the process series (process.ts). The HTTP listener's thread formats every scrape this
// way, so the daemon's loop only collects its half; DaemonMetrics.text() does the same in one
// thread. Scrapes within TEXT_REUSE_MS of one another share one text.
import { performance } from 'node:perf_hooks';
import client from 'prom-client';
import { collect, format, type Collected } from './exposition.js';
import { registerProcessMetrics } from './process.js';
import { registerStatusMetrics, type MetricsStatus } from './status-metrics.js';

/** What the daemon's thread hands over for one scrape. */
export interface ScrapeInput {
  fed: Collected[];
  status: MetricsStatus | null;
}

export const TEXT_REUSE_MS = 250;

export class ScrapeText {
  private readonly registry = new client.Registry();
  private status: MetricsStatus | null = null;
  private last: { atMs: number; text: Promise<string> } | null = null;

  /** `constantLabels`: from labelText, on every sample. */
  constructor(private readonly constantLabels: string) {
    registerStatusMetrics(this.registry, () => this.status);
    registerProcessMetrics(this.registry); // not prom-client's default collectors: process.ts says why
  }

  /** The text of the last scrape if it is younger than TEXT_REUSE_MS, else a new one from `input()`. */
  text(input: () => Promise<ScrapeInput>): Promise<string> {
    const now = performance.now();
    if (this.last === null || now - this.last.atMs >= TEXT_REUSE_MS) {
      this.last = { atMs: now, text: input().then((i) => this.format(i)) };
      this.last.text.catch(() => (this.last = null)); // a failed scrape is not reused
    }
    return this.last.text;
  }

  private async format(input: ScrapeInput): Promise<string> {
    this.status = input.status;
    return format([...(await collect(this.registry)), ...input.fed], this.constantLabels);
  }
}
