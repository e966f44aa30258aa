// The daemon's Prometheus metrics (docs/metrics.md), with prom-client. Counters and
// latency histograms are fed from what the daemon already sees: every engine output it
// carries out and every input it feeds (a disk or store call's latency is the time from
// its output to its answer, matched by request id). The gauges read from the status and the
// process series are not here: any thread can collect them (scrape.ts, status-metrics.ts).
//
// onOutput/onInput run inside every engine step (about 40 a second), so the frequent part
// (I/O issued, answered, its latency) allocates nothing: request times sit in typed-array
// rings and latencies in per-series bucket arrays (LatencyHistogram), read out only when a
// scrape asks. Rare events (role changes, fences, votes) use prom-client counters directly.
import client from 'prom-client';
import { LOG_ABNORMAL, LOG_ABORTED, LOG_CHOSEN, LOG_PROPOSING } from '../core/proposer.js';
import type { Input, Output } from '../core/types.js';
import { CONTENT_TYPE, collect, labelText } from './exposition.js';
import { registerHeapMetrics } from './process.js';
import { ScrapeText, type ScrapeInput } from './scrape.js';
import type { MetricsStatus } from './status-metrics.js';

/** What a scrape reads from the daemon. */
export interface MetricsSource {
  status(): MetricsStatus;
}

const DISK_OPS = ['read', 'heartbeat', 'vote'] as const;
const OP_READ = 0;
const OP_HEARTBEAT = 1;
const OP_VOTE = 2;

/** One label set of a LatencyHistogram: counts per bucket (the last one above every bound). */
interface Series {
  labels: Record<string, string>;
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A histogram whose observe() is a bucket search and three additions on preallocated
 * arrays (prom-client's observe builds a label hash string and a closure per call). It
 * registers in a prom-client registry as a metric (name, help, type, get), so exposition()
 * and registry.metrics() write it like prom-client's: cumulative `_bucket` lines with `le`,
 * `+Inf`, `_sum`, `_count` per label set.
 */
export class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly all: Series[] = [];

  constructor(readonly name: string, readonly help: string, readonly labelNames: string[], private readonly bounds: readonly number[], registry: client.Registry) {
    registry.registerMetric(this as unknown as client.Metric);
  }

  /** A new label set (the caller keeps it and observes into it). */
  series(labels: Record<string, string>): Series {
    const s: Series = { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
    this.all.push(s);
    return s;
  }

  observe(s: Series, value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++; // le: the first bound >= value
    s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
    s.count++;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { value: number; labels: Record<string, string | number>; metricName: string }[] }> {
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.all) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i] as number;
        values.push({ value: acc, labels: { ...s.labels, le }, metricName: bucket });
      });
      values.push({ value: s.count, labels: { ...s.labels, le: '+Inf' }, metricName: bucket });
      values.push({ value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    for (const s of this.all) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/**
 * When each outstanding request was issued, by request id (the engine numbers them upward),
 * in fixed arrays: a slot is reused RING_SIZE requests later, so an answer that never came
 * (a wedged path) costs nothing and leaks nothing.
 */
const RING_SIZE = 4096;
class IssuedRing {
  private readonly ids = new Float64Array(RING_SIZE).fill(-1);
  private readonly atMs = new Float64Array(RING_SIZE);
  private readonly kinds = new Uint16Array(RING_SIZE);

  set(id: number, atMs: number, kind: number): void {
    const slot = id % RING_SIZE;
    this.ids[slot] = id;
    this.atMs[slot] = atMs;
    this.kinds[slot] = kind;
  }

  /** The slot of request `id` (then free), or -1 when it is not outstanding. */
  take(id: number): number {
    const slot = id % RING_SIZE;
    if (slot < 0 || this.ids[slot] !== id) return -1;
    this.ids[slot] = -1;
    return slot;
  }

  issuedAt(slot: number): number {
    return this.atMs[slot] as number;
  }

  kind(slot: number): number {
    return this.kinds[slot] as number;
  }
}

export class DaemonMetrics {
  readonly registry = new client.Registry();
  private readonly diskIssued = new IssuedRing();
  private readonly storeIssued = new IssuedRing();
  /** The store calls' names seen so far (the store ring keeps an index into this). */
  private readonly storeOps: string[] = [];
  private readonly diskSeries: Series[] = []; // by disk * 3 + op
  private readonly storeSeries: Series[] = []; // by index in storeOps
  private readonly roleChanges: client.Counter;
  private readonly evictions: client.Counter;
  private readonly fences: client.Counter;
  private readonly fenceSteps: client.Counter;
  private readonly diskIo: LatencyHistogram;
  private readonly diskFailures: client.Counter;
  private readonly storeCalls: LatencyHistogram;
  private readonly storeFailures: client.Counter;
  private readonly crashReports: client.Counter;
  private readonly resourceActions: client.Counter;
  private readonly voteCycles: client.Counter;
  private readonly voteRounds: client.Counter;
  private readonly voteWrites: client.Counter;
  private readonly hb2Timeouts: client.Counter;
  /** The labels on every series (labelText of cluster and host), added when the text is formatted. */
  readonly constantLabels: string;
  private inThread: ScrapeText | undefined;

  constructor(private readonly source: MetricsSource, cluster: string, hostId: number, private readonly resources: string[]) {
    this.constantLabels = labelText({ cluster, host: String(hostId) });
    registerHeapMetrics(this.registry); // the heap of this thread's isolate; process.ts says why
    const r = [this.registry];
    const counter = (name: string, help: string, labelNames: string[] = []): client.Counter => new client.Counter({ name, help, labelNames, registers: r });
    this.roleChanges = counter('ycs_role_changes_total', 'Role changes of this host.', ['from', 'to']);
    this.evictions = counter('ycs_evictions_total', 'Hosts this host saw evicted by a decision.');
    this.fences = counter('ycs_fence_operations_total', 'Fences (PREEMPT of another host\'s key) this host carried out, by result.', ['result']);
    this.fenceSteps = counter('ycs_fence_steps_total', 'Register and reserve steps on fenced devices, by result.', ['step', 'result']);
    this.diskFailures = counter('ycs_disk_io_failures_total', 'Voting-disk I/O that failed, by disk and error (timeout, stalled, io, reservation-conflict).', ['disk', 'error']);
    this.storeFailures = counter('ycs_store_call_failures_total', 'etcd calls that failed or passed their deadline, by call.', ['op']);
    this.crashReports = counter('ycs_resource_crash_reports_total', 'Databases whose heartbeat-2 socket closed (a crash report).', ['resource']);
    this.resourceActions = counter('ycs_resource_actions_total', 'Agent actions, by action and result.', ['action', 'result']);
    this.voteCycles = counter('ycs_vote_cycles_total', 'Abnormalities that made this host start voting (the seed\'s "abnormal found, trigger a new vote cycle"), once per epoch.');
    this.voteRounds = counter('ycs_vote_rounds_total', 'Disk Paxos rounds of this host: proposed, then chosen or aborted (a higher ballot won).', ['outcome']);
    this.voteWrites = counter('ycs_vote_writes_total', 'Disk Paxos vote sector writes this host issued (phases of its vote rounds), per disk.', ['disk']);
    this.hb2Timeouts = counter('ycs_heartbeat2_timeouts_total', 'Databases silent on heartbeat 2 for NETWORK_HB_TIMEOUT, by resource.', ['resource']);
    const buckets = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3];
    this.diskIo = new LatencyHistogram('ycs_disk_io_seconds', 'Voting-disk I/O latency, output to answer, by disk and operation.', ['disk', 'op'], buckets, this.registry);
    this.storeCalls = new LatencyHistogram('ycs_store_call_seconds', 'etcd call latency, output to answer, by call.', ['op'], buckets, this.registry);
  }

  /** An engine output the daemon is about to carry out, at `nowMs` of its own clock. */
  onOutput(o: Output, nowMs: number): void {
    switch (o.kind) {
      case 'read-disk':
        return this.diskIssued.set(o.requestId, nowMs, OP_READ);
      case 'write-vote':
        this.voteWrites.inc({ disk: String(o.disk) }); // votes are rare (an election's phases)
        return this.diskIssued.set(o.requestId, nowMs, OP_VOTE);
      case 'write-heartbeat':
        return this.diskIssued.set(o.requestId, nowMs, OP_HEARTBEAT);
      case 'log':
        if (o.msg === LOG_ABNORMAL) this.voteCycles.inc();
        else if (o.msg === LOG_PROPOSING) this.voteRounds.inc({ outcome: 'proposed' });
        else if (o.msg === LOG_CHOSEN) this.voteRounds.inc({ outcome: 'chosen' });
        else if (o.msg === LOG_ABORTED) this.voteRounds.inc({ outcome: 'aborted' });
        return;
      case 'store': {
        let op = this.storeOps.indexOf(o.call.op);
        if (op < 0) op = this.storeOps.push(o.call.op) - 1;
        return this.storeIssued.set(o.requestId, nowMs, op);
      }
      case 'role-change':
        return this.roleChanges.inc({ from: o.from, to: o.to });
      case 'membership':
        return this.evictions.inc(o.evicted.length);
      default:
    }
  }

  /** An input the daemon feeds the engine. */
  onInput(i: Input): void {
    switch (i.kind) {
      case 'disk-read-done':
      case 'disk-write-done':
      case 'disk-failed': {
        const slot = this.diskIssued.take(i.requestId);
        if (slot >= 0) {
          const op = this.diskIssued.kind(slot);
          const key = i.disk * DISK_OPS.length + op;
          const series = (this.diskSeries[key] ??= this.diskIo.series({ disk: String(i.disk), op: DISK_OPS[op] ?? 'read' }));
          this.diskIo.observe(series, (i.nowMs - this.diskIssued.issuedAt(slot)) / 1000);
        }
        if (i.kind === 'disk-failed') this.diskFailures.inc({ disk: String(i.disk), error: i.error });
        return;
      }
      case 'store-done': {
        const slot = this.storeIssued.take(i.requestId);
        if (slot >= 0) {
          const op = this.storeIssued.kind(slot);
          const series = (this.storeSeries[op] ??= this.storeCalls.series({ op: this.storeOps[op] ?? String(op) }));
          this.storeCalls.observe(series, (i.nowMs - this.storeIssued.issuedAt(slot)) / 1000);
        }
        if (!i.result.ok) this.storeFailures.inc({ op: i.result.op });
        return;
      }
      case 'fence-done':
        return this.fences.inc({ result: i.ok ? 'ok' : 'failed' });
      case 'fence-step-done':
        return this.fenceSteps.inc({ step: i.step, result: i.ok ? 'ok' : 'failed' });
      case 'resource-event':
        if (i.event === 'disconnected') this.crashReports.inc({ resource: this.resources[i.resource] ?? String(i.resource) });
        return;
      case 'resource-action-done':
        return this.resourceActions.inc({ action: i.action, result: i.ok ? 'ok' : 'failed' });
      default:
    }
  }

  /** A database fell silent on heartbeat 2 for NETWORK_HB_TIMEOUT. */
  onHeartbeat2Timeout(resource: number): void {
    this.hb2Timeouts.inc({ resource: this.resources[resource] ?? String(resource) });
  }

  /** This thread's half of a scrape (scrape.ts): its series collected now, and the status. */
  async scrapeInput(): Promise<ScrapeInput> {
    let status: MetricsStatus | null;
    try {
      status = this.source.status();
    } catch {
      status = null; // not open yet: no gauge values
    }
    return { fed: await collect(this.registry), status };
  }

  /** The whole exposition, formatted in this thread (the listener's thread formats its own). */
  text(): Promise<string> {
    this.inThread ??= new ScrapeText(this.constantLabels);
    return this.inThread.text(() => this.scrapeInput());
  }

  get contentType(): string {
    return CONTENT_TYPE;
  }
}
