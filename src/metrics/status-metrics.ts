// The gauges read from the daemon's status at scrape time (docs/metrics.md), so they never
// drift from what `ycsctl status` shows: role, master and epoch, members, each host's state
// and heartbeat ages, the resources, the event-loop lag, restarts, dropped packets. They need
// nothing but a status, so they are collected wherever the scrape is formatted (the HTTP
// listener's thread, scrape.ts), from the status the daemon's thread handed over.
import client from 'prom-client';
import type { StatusResult } from '../core/view.js';
import type { LagFigures } from './loop-lag.js';

const ROLES = ['starting', 'standby', 'master', 'evicted', 'leaving'] as const;
const RESOURCE_STATES = ['unknown', 'offline', 'starting', 'standby', 'primary', 'failed'] as const;

/** The status a scrape reads (null while the daemon is still opening: no gauge values). */
export type MetricsStatus = StatusResult & { incarnation?: number; net?: { dropped?: Record<string, number>; forged?: number }; eventLoopLag?: LagFigures | null; eventLoopWakeup?: LagFigures | null };

export function registerStatusMetrics(registry: client.Registry, status: () => MetricsStatus | null): void {
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: client.Gauge) => void): void => {
    new client.Gauge({ name, help, labelNames, registers: [registry], collect() { this.reset(); collect(this); } });
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
  const lagGauge = (name: string, help: string, figures: (s: MetricsStatus | null) => LagFigures | null | undefined): void => gauge(name, help, ['quantile'], (g) => {
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
}
