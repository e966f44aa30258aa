// The daemon's Prometheus metrics (docs/metrics.md), with prom-client. Counters and
// latency histograms are fed from what the daemon already sees: every engine output it
// carries out and every input it feeds (a disk or store call's latency is the time from
// its output to its answer, matched by request id). Gauges are read from the status at
// scrape time, so they never drift from what `ycsctl status` shows.
//
// onOutput/onInput run inside every engine step (about 40 a second), so the frequent part
// (I/O issued, answered, its latency) allocates nothing: request times sit in typed-array
// rings and latencies in per-series bucket arrays (LatencyHistogram), read out only when a
// scrape asks. Rare events (role changes, fences, votes) use prom-client counters directly.
import { performance } from 'node:perf_hooks';
import client from 'prom-client';
import { LOG_ABNORMAL, LOG_ABORTED, LOG_CHOSEN, LOG_PROPOSING } from '../core/proposer.js';
import type { Input, Output } from '../core/types.js';
import type { LagFigures } from './loop-lag.js';
import type { StatusResult } from '../core/view.js';
import { CONTENT_TYPE, exposition, labelText } from './exposition.js';
import { registerProcessMetrics } from './process.js';

const TEXT_REUSE_MS = 250;
const ROLES = ['starting', 'standby', 'master', 'evicted', 'leaving'] as const;
const RESOURCE_STATES = ['unknown', 'offline', 'starting', 'standby', 'primary', 'failed'] as const;

/** What a scrape reads from the daemon. */
export interface MetricsSource {
  status(): StatusResult & { incarnation?: number; net?: { dropped?: Record<string, number>; forged?: number }; eventLoopLag?: LagFigures | null; eventLoopWakeup?: LagFigures | null };
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
  private readonly constantLabels: string;
  private lastText: { atMs: number; text: Promise<string> } | null = null;

  constructor(source: MetricsSource, cluster: string, hostId: number, private readonly resources: string[]) {
    this.constantLabels = labelText({ cluster, host: String(hostId) }); // on every series, added by exposition()
    registerProcessMetrics(this.registry); // not prom-client's default collectors: process.ts says why
    const r = [this.registry];
    const gauge = (name: string, help: string, labelNames: string[], collect: (g: client.Gauge) => void): void => {
      new client.Gauge({ name, help, labelNames, registers: r, collect() { this.reset(); collect(this); } });
    };
    // One status per scrape, not one per gauge (a scrape collects every gauge at once).
    let cached: { atMs: number; value: ReturnType<MetricsSource['status']> | null } | null = null;
    const status = (): ReturnType<MetricsSource['status']> | null => {
      const now = performance.now();
      if (cached !== null && now - cached.atMs < 50) return cached.value;
      let value: ReturnType<MetricsSource['status']> | null;
      try {
        value = source.status();
      } catch {
        value = null; // not open yet: no gauge values
      }
      cached = { atMs: now, value };
      return value;
    };
    gauge('ycs_role', 'This host\'s role (1 for the current one).', ['role'], (g) => {
      const s = status();
      for (const role of ROLES) g.set({ role }, s?.role === role ? 1 : 0);
    });
    gauge('ycs_cluster_master_id', 'The master this host follows (0: none known).', [], (g) => g.set(status()?.masterId ?? 0));
    gauge('ycs_cluster_epoch', 'The epoch this host follows (the fencing token).', [], (g) => g.set(status()?.epoch ?? 0));
    gauge('ycs_cluster_members', 'Hosts in the decided member set.', [], (g) => g.set(status()?.members.length ?? 0));
    gauge('ycs_host_up', 'Each configured host as this host sees it (1 online, 0 offline).', ['peer'], (g) => {
      for (const h of status()?.hosts ?? []) g.set({ peer: String(h.hostId) }, h.state === 'online' ? 1 : 0);
    });
    gauge('ycs_resource_state', 'Each resource\'s state on this host (1 for the current one).', ['resource', 'state'], (g) => {
      const s = status();
      if (s === null) return;
      const own = s.hosts.find((h) => h.hostId === s.selfId);
      s.resources.forEach((resource, i) => {
        for (const state of RESOURCE_STATES) g.set({ resource, state }, own?.resources[i] === state ? 1 : 0);
      });
    });
    gauge('ycs_resource_master_id', 'The host where each resource is primary (0: none or unclear).', ['resource'], (g) => {
      const s = status();
      s?.resources.forEach((resource, i) => g.set({ resource }, s.resourceMasters[i] ?? 0));
    });
    gauge('ycs_peer_heartbeat_age_seconds', 'Time since each peer\'s disk heartbeat last changed and since its last network heartbeat 1 (this host\'s clock, at its latest step).', ['peer', 'path'], (g) => {
      for (const h of status()?.hosts ?? []) {
        const ages = h.heartbeatAgeMs;
        if (ages === undefined) continue; // this host
        if (ages.disk !== null) g.set({ peer: String(h.hostId), path: 'disk' }, ages.disk / 1000);
        if (ages.net !== null) g.set({ peer: String(h.hostId), path: 'net' }, ages.net / 1000);
      }
    });
    const lagGauge = (name: string, help: string, figures: (s: ReturnType<MetricsSource['status']> | null) => LagFigures | null | undefined): void => gauge(name, help, ['quantile'], (g) => {
      const lag = figures(status());
      if (lag === null || lag === undefined) return;
      g.set({ quantile: '0.5' }, lag.p50Ms / 1000);
      g.set({ quantile: '0.99' }, lag.p99Ms / 1000);
      g.set({ quantile: '1' }, lag.maxMs / 1000);
    });
    lagGauge('ycs_event_loop_lag_seconds', 'The daemon\'s event-loop lag over its latest full 10 s window (what exceeds a 10 ms timer, on libuv\'s millisecond clock), by quantile.', (s) => s?.eventLoopLag);
    lagGauge('ycs_event_loop_wakeup_delay_seconds', 'How long an event from another thread (a disk answer) waited for the daemon\'s event loop over its latest full 10 s window, by quantile.', (s) => s?.eventLoopWakeup);
    gauge('ycs_incarnation', 'This run of ycs on this host; grows at every (re)start, so its increase counts restarts by ycsm.', [], (g) => g.set(status()?.incarnation ?? 0));
    gauge('ycs_net_dropped_packets', 'Network heartbeat-1 packets dropped since start, by reason (forged, replayed, malformed, ...).', ['reason'], (g) => {
      for (const [reason, n] of Object.entries(status()?.net?.dropped ?? {})) g.set({ reason }, n);
    });
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

  /**
   * The exposition; scrapes within TEXT_REUSE_MS of one another (several Prometheus servers,
   * a dashboard's burst) share one serialization.
   */
  text(): Promise<string> {
    const now = performance.now();
    if (this.lastText === null || now - this.lastText.atMs >= TEXT_REUSE_MS) this.lastText = { atMs: now, text: exposition(this.registry, this.constantLabels) };
    return this.lastText.text;
  }

  get contentType(): string {
    return CONTENT_TYPE;
  }
}
