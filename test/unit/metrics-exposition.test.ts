// The daemon's /metrics text without a daemon (src/metrics/): the process and nodejs series
// under prom-client's standard names (its default collectors replaced, docs/metrics.md),
// the cluster and host labels on every sample, histograms, label escaping, and one
// serialization shared by scrapes close together.
import { setTimeout as sleep } from 'node:timers/promises';
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { exposition, labelText } from '../../src/metrics/exposition.js';
import { DaemonMetrics, type MetricsSource } from '../../src/metrics/metrics.js';
import { PROCESS_METRIC_NAMES } from '../../src/metrics/process.js';

const STATUS = {
  selfId: 1, role: 'master', masterId: 1, epoch: 4, members: [1, 2, 3], resources: ['YasDB'], resourceMasters: [1],
  hosts: [1, 2, 3].map((hostId) => ({ hostId, target: 'online', state: 'online', resources: [hostId === 1 ? 'primary' : 'standby'], ...(hostId === 1 ? {} : { heartbeatAgeMs: { disk: 120, net: 40 } }) })),
  incarnation: 3, eventLoopLag: { p50Ms: 0.1, p99Ms: 1.2, maxMs: 3 }, eventLoopWakeup: { p50Ms: 0.03, p99Ms: 0.4, maxMs: 2 },
} as unknown as ReturnType<MetricsSource['status']>;

/** Every sample line: name, labels, value (the text format's grammar, no timestamps). */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((line) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$/.exec(line);
    expect(m, line).not.toBeNull();
    const labels = Object.fromEntries([...(m![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((p) => [p[1]!, p[2]!]));
    return { name: m![1]!, labels, value: m![3] === '+Inf' ? Infinity : Number(m![3]) };
  });
}

describe('DaemonMetrics text', () => {
  it('carries the process series under the standard names and no prom-client default collector', async () => {
    const metrics = new DaemonMetrics({ status: () => STATUS }, 'demo', 1, ['YasDB']);
    await metrics.text();
    await sleep(300); // the open-fd count comes from the previous scrape's readdir
    const text = await metrics.text();
    const all = samples(text);
    for (const name of PROCESS_METRIC_NAMES) expect(all.some((s) => s.name === name), name).toBe(true);
    const value = (name: string): number => all.find((s) => s.name === name)!.value;
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(1e6);
    expect(value('process_cpu_seconds_total')).toBeCloseTo(value('process_cpu_user_seconds_total') + value('process_cpu_system_seconds_total'), 2);
    expect(value('process_open_fds')).toBeGreaterThan(2);
    expect(value('process_max_fds')).toBeGreaterThanOrEqual(value('process_open_fds'));
    expect(value('nodejs_heap_size_used_bytes')).toBeLessThanOrEqual(value('nodejs_heap_size_total_bytes'));
    expect(Math.abs(value('process_start_time_seconds') - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
    expect(all.find((s) => s.name === 'nodejs_version_info')!.labels.version).toBe(process.version);
    expect(text).toMatch(/# TYPE process_cpu_seconds_total counter\n/);
    expect(text).not.toMatch(/nodejs_eventloop_lag|nodejs_heap_space|nodejs_gc_|nodejs_active_|process_virtual_memory|process_heap_bytes/);
    expect(metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('labels every sample with cluster and host and writes histograms in full', async () => {
    const metrics = new DaemonMetrics({ status: () => STATUS }, 'demo', 1, ['YasDB']);
    metrics.onOutput({ kind: 'read-disk', requestId: 7, disk: 0 } as never, 100);
    metrics.onInput({ kind: 'disk-read-done', requestId: 7, disk: 0, nowMs: 102 } as never);
    const all = samples(await metrics.text());
    for (const s of all) expect(s.labels).toMatchObject({ cluster: 'demo', host: '1' });
    expect(all.find((s) => s.name === 'ycs_role' && s.labels.role === 'master')!.value).toBe(1);
    expect(all.find((s) => s.name === 'ycs_resource_state' && s.labels.state === 'primary')!.labels.resource).toBe('YasDB');
    expect(all.find((s) => s.name === 'ycs_event_loop_lag_seconds' && s.labels.quantile === '0.99')!.value).toBeCloseTo(0.0012, 6);
    expect(all.find((s) => s.name === 'ycs_event_loop_wakeup_delay_seconds' && s.labels.quantile === '0.99')!.value).toBeCloseTo(0.0004, 6);
    const buckets = all.filter((s) => s.name === 'ycs_disk_io_seconds_bucket' && s.labels.op === 'read');
    expect(buckets.map((b) => b.labels.le)).toEqual(['0.0001', '0.0003', '0.001', '0.003', '0.01', '0.03', '0.1', '0.3', '1', '3', '+Inf']);
    expect(buckets.map((b) => b.value)).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(all.find((s) => s.name === 'ycs_disk_io_seconds_count' && s.labels.op === 'read')!.value).toBe(1);
    expect(all.find((s) => s.name === 'ycs_disk_io_seconds_sum' && s.labels.op === 'read')!.value).toBeCloseTo(0.002, 6);
  });

  it('times every I/O kind and etcd call by request id, and forgets answers that never came', async () => {
    const metrics = new DaemonMetrics({ status: () => STATUS }, 'demo', 1, ['YasDB']);
    metrics.onOutput({ kind: 'write-heartbeat', requestId: 1, disk: 2 } as never, 0);
    metrics.onOutput({ kind: 'write-vote', requestId: 2, disk: 2 } as never, 0);
    metrics.onOutput({ kind: 'store', requestId: 1, call: { op: 'keepalive' } } as never, 10); // its own id space
    metrics.onInput({ kind: 'disk-write-done', requestId: 1, disk: 2, nowMs: 0.05 } as never);
    metrics.onInput({ kind: 'disk-failed', requestId: 2, disk: 2, error: 'timeout', nowMs: 5000 } as never);
    metrics.onInput({ kind: 'disk-failed', requestId: 2, disk: 2, error: 'timeout', nowMs: 6000 } as never); // answered already: not timed again
    metrics.onInput({ kind: 'store-done', requestId: 1, nowMs: 30, result: { ok: true, op: 'keepalive' } } as never);
    for (let id = 3; id < 3 + 5000; id++) metrics.onOutput({ kind: 'read-disk', requestId: id, disk: 0 } as never, 0); // never answered
    metrics.onInput({ kind: 'disk-read-done', requestId: 3, disk: 0, nowMs: 1 } as never); // its slot was reused: not timed
    metrics.onInput({ kind: 'disk-read-done', requestId: 5002, disk: 0, nowMs: 1 } as never);
    const all = samples(await metrics.text());
    const one = (name: string, labels: Record<string, string>): number => all.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))!.value;
    expect(one('ycs_disk_io_seconds_bucket', { disk: '2', op: 'heartbeat', le: '0.0001' })).toBe(1);
    expect(one('ycs_disk_io_seconds_count', { disk: '2', op: 'vote' })).toBe(1);
    expect(one('ycs_disk_io_seconds_bucket', { disk: '2', op: 'vote', le: '3' })).toBe(0);
    expect(one('ycs_disk_io_seconds_bucket', { disk: '2', op: 'vote', le: '+Inf' })).toBe(1);
    expect(one('ycs_disk_io_failures_total', { disk: '2', error: 'timeout' })).toBe(2);
    expect(one('ycs_vote_writes_total', { disk: '2' })).toBe(1);
    expect(one('ycs_store_call_seconds_bucket', { op: 'keepalive', le: '0.03' })).toBe(1);
    expect(one('ycs_store_call_seconds_sum', { op: 'keepalive' })).toBeCloseTo(0.02, 6);
    expect(one('ycs_disk_io_seconds_count', { disk: '0', op: 'read' })).toBe(1);
    // prom-client's own serializer reads the same histograms (a registry merged elsewhere).
    expect(await metrics.registry.metrics()).toMatch(/ycs_disk_io_seconds_bucket\{disk="2",op="heartbeat",le="0.0001"\} 1\n/);
  });

  it('shares one serialization between scrapes within 250 ms', async () => {
    let reads = 0;
    const metrics = new DaemonMetrics({ status: () => (reads++, STATUS) }, 'demo', 1, ['YasDB']);
    const first = await metrics.text();
    expect(await metrics.text()).toBe(first);
    expect(reads).toBe(1);
    await sleep(300);
    await metrics.text();
    expect(reads).toBe(2);
  });
});

describe('exposition', () => {
  it('escapes label values and help text as the text format requires', async () => {
    const registry = new client.Registry();
    const g = new client.Gauge({ name: 'x_gauge', help: 'line one\nback\\slash', labelNames: ['v'], registers: [registry] });
    g.set({ v: 'a"b\\c\nd' }, 2.5);
    const text = await exposition(registry, labelText({ cluster: 'we"ird' }));
    expect(text).toBe('# HELP x_gauge line one\\nback\\\\slash\n# TYPE x_gauge gauge\nx_gauge{v="a\\"b\\\\c\\nd",cluster="we\\"ird"} 2.5\n\n');
    expect(await exposition(new client.Registry(), '')).toBe('');
    const bare = new client.Registry();
    new client.Counter({ name: 'y_total', help: 'y', registers: [bare] }).inc();
    expect(await exposition(bare, '')).toBe('# HELP y_total y\n# TYPE y_total counter\ny_total 1\n\n');
  });
});
