// The daemon's Prometheus metrics (docs/metrics.md), with prom-client. Counters and
// latency histograms are fed from what the daemon already sees: every engine output it
// carries out and every input it feeds (a disk or store call's latency is the time from
// its output to its answer, matched by request id). Gauges are read from the status at
// scrape time, so they never drift from what `ycsctl status` shows.
import { performance } from 'node:perf_hooks';
import client from 'prom-client';
import { LOG_ABNORMAL, LOG_ABORTED, LOG_CHOSEN, LOG_PROPOSING } from '../core/proposer.js';
import type { Input, Output } from '../core/types.js';
import type { StatusResult } from '../core/view.js';
import { CONTENT_TYPE, exposition, labelText } from './exposition.js';
import { registerProcessMetrics } from './process.js';

const TEXT_REUSE_MS = 250;
const ROLES = ['starting', 'standby', 'master', 'evicted', 'leaving'] as const;
const RESOURCE_STATES = ['unknown', 'offline', 'starting', 'standby', 'primary', 'failed'] as const;

/** What a scrape reads from the daemon. */
export interface MetricsSource {
  status(): StatusResult & { incarnation?: number; net?: { dropped?: Record<string, number>; forged?: number }; eventLoopLag?: { p50Ms: number; p99Ms: number; maxMs: number } | null };
}

export class DaemonMetrics {
  readonly registry = new client.Registry();
  private readonly issued = new Map<number, { atMs: number; kind: string; disk?: number }>();
  private readonly roleChanges: client.Counter;
  private readonly evictions: client.Counter;
  private readonly fences: client.Counter;
  private readonly fenceSteps: client.Counter;
  private readonly diskIo: client.Histogram;
  private readonly diskFailures: client.Counter;
  private readonly storeCalls: client.Histogram;
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
    gauge('ycs_event_loop_lag_seconds', 'The daemon\'s event-loop lag over its latest full 10 s window (what exceeds a 10 ms timer), by quantile.', ['quantile'], (g) => {
      const lag = status()?.eventLoopLag;
      if (lag === null || lag === undefined) return;
      g.set({ quantile: '0.5' }, lag.p50Ms / 1000);
      g.set({ quantile: '0.99' }, lag.p99Ms / 1000);
      g.set({ quantile: '1' }, lag.maxMs / 1000);
    });
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
    this.diskIo = new client.Histogram({ name: 'ycs_disk_io_seconds', help: 'Voting-disk I/O latency, output to answer, by disk and operation.', labelNames: ['disk', 'op'], buckets, registers: r });
    this.storeCalls = new client.Histogram({ name: 'ycs_store_call_seconds', help: 'etcd call latency, output to answer, by call.', labelNames: ['op'], buckets, registers: r });
  }

  /** An engine output the daemon is about to carry out, at `nowMs` of its own clock. */
  onOutput(o: Output, nowMs: number): void {
    switch (o.kind) {
      case 'read-disk':
        return void this.issued.set(o.requestId, { atMs: nowMs, kind: 'read', disk: o.disk });
      case 'write-vote':
        this.voteWrites.inc({ disk: String(o.disk) });
        return void this.issued.set(o.requestId, { atMs: nowMs, kind: 'vote', disk: o.disk });
      case 'write-heartbeat':
        return void this.issued.set(o.requestId, { atMs: nowMs, kind: 'heartbeat', disk: o.disk });
      case 'log':
        if (o.msg === LOG_ABNORMAL) this.voteCycles.inc();
        else if (o.msg === LOG_PROPOSING) this.voteRounds.inc({ outcome: 'proposed' });
        else if (o.msg === LOG_CHOSEN) this.voteRounds.inc({ outcome: 'chosen' });
        else if (o.msg === LOG_ABORTED) this.voteRounds.inc({ outcome: 'aborted' });
        return;
      case 'store':
        return void this.issued.set(-o.requestId, { atMs: nowMs, kind: o.call.op });
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
        const sent = this.take(i.requestId);
        if (sent !== undefined) this.diskIo.observe({ disk: String(i.disk), op: sent.kind }, (i.nowMs - sent.atMs) / 1000);
        if (i.kind === 'disk-failed') this.diskFailures.inc({ disk: String(i.disk), error: i.error });
        return;
      }
      case 'store-done': {
        const sent = this.take(-i.requestId);
        if (sent !== undefined) this.storeCalls.observe({ op: sent.kind }, (i.nowMs - sent.atMs) / 1000);
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

  private take(key: number): { atMs: number; kind: string } | undefined {
    const sent = this.issued.get(key);
    this.issued.delete(key);
    if (this.issued.size > 10_000) this.issued.clear(); // answers that never came (a wedged path): no leak
    return sent;
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
