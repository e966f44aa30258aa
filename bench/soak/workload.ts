// The soak's steady client workload, beside the demo databases' own writes (the primary
// appends a line to the shared data file all the time):
//   - a load balancer's health check: GET /primary on every host every 100 ms (HAProxy's
//     `inter 100ms` of docs/metrics.md); a round where not exactly one host answers 200
//     is a gap a client would see
//   - a Prometheus-like scrape of /metrics on every host every second
//   - `status` over every control socket every second, which also records the largest
//     peer heartbeat ages (how close the load came to DISK_HB_KEEP_ALIVE and
//     NETWORK_HB_TIMEOUT), the daemons' event-loop lag and the masters and epochs seen
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalCluster } from '../../src/demo/cluster.js';

export interface WorkloadFigures {
  healthRounds: number;
  /** Health-check rounds with no host, or more than one, answering 200 on /primary. */
  healthGaps: number;
  scrapes: number;
  statusCalls: number;
  statusErrors: number;
  maxDiskAgeMs: number;
  maxNetAgeMs: number;
  /** The worst 10 s window's p99 and max event-loop lag of any daemon. */
  maxLagP99Ms: number;
  maxLagMs: number;
  masters: number[];
  epochs: number[];
}

interface StatusJson {
  masterId: number;
  epoch: number;
  hosts: Array<{ heartbeatAgeMs?: { disk: number | null; net: number | null } }>;
  eventLoopLag?: { p99Ms: number; maxMs: number } | null;
}

export class Workload {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  readonly figures: WorkloadFigures = { healthRounds: 0, healthGaps: 0, scrapes: 0, statusCalls: 0, statusErrors: 0, maxDiskAgeMs: 0, maxNetAgeMs: 0, maxLagP99Ms: 0, maxLagMs: 0, masters: [], epochs: [] };

  constructor(private readonly cluster: LocalCluster) {}

  start(): void {
    this.loops.push(this.every(100, () => this.healthRound()), this.every(1000, () => this.scrapeRound()), this.every(1000, () => this.statusRound()));
  }

  async stop(): Promise<WorkloadFigures> {
    this.stopped = true;
    await Promise.all(this.loops);
    return this.figures;
  }

  private async every(periodMs: number, round: () => Promise<void>): Promise<void> {
    while (!this.stopped) {
      const started = performance.now();
      await round();
      await sleep(Math.max(0, periodMs - (performance.now() - started)));
    }
  }

  private async healthRound(): Promise<void> {
    const answers = await Promise.all(this.cluster.hosts.map((h) => get(`${h.httpUrl}/primary`).then((r) => r.status, () => 0)));
    this.figures.healthRounds += 1;
    if (answers.filter((s) => s === 200).length !== 1) this.figures.healthGaps += 1;
  }

  private async scrapeRound(): Promise<void> {
    await Promise.all(this.cluster.hosts.map((h) => get(`${h.httpUrl}/metrics`).then((r) => r.text(), () => '')));
    this.figures.scrapes += 1;
  }

  private async statusRound(): Promise<void> {
    for (const h of this.cluster.hosts) {
      this.figures.statusCalls += 1;
      try {
        this.record((await this.cluster.status(h.id, 2000)) as unknown as StatusJson);
      } catch {
        this.figures.statusErrors += 1;
      }
    }
  }

  private record(s: StatusJson): void {
    const f = this.figures;
    if (!f.masters.includes(s.masterId)) f.masters.push(s.masterId);
    if (!f.epochs.includes(s.epoch)) f.epochs.push(s.epoch);
    for (const peer of s.hosts) {
      f.maxDiskAgeMs = Math.max(f.maxDiskAgeMs, peer.heartbeatAgeMs?.disk ?? 0);
      f.maxNetAgeMs = Math.max(f.maxNetAgeMs, peer.heartbeatAgeMs?.net ?? 0);
    }
    f.maxLagP99Ms = Math.max(f.maxLagP99Ms, s.eventLoopLag?.p99Ms ?? 0);
    f.maxLagMs = Math.max(f.maxLagMs, s.eventLoopLag?.maxMs ?? 0);
  }
}

function get(url: string): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(2000) });
}
