// The process_* and nodejs_* series of the daemon, under prom-client's standard names so
// that dashboards built on its default collectors keep working, but computed at scrape time
// without synchronous file I/O (docs/metrics.md, Cost): prom-client's collectDefaultMetrics
// reads /proc/self/status and readdirs /proc/self/fd on the event loop at every scrape, walks
// every heap space and handle, and keeps a GC observer running between scrapes.
//   process.cpuUsage(), v8.getHeapStatistics(): a few microseconds, no file
//   process.memoryUsage.rss(): libuv's one small read of /proc/self/stat, ~10 us
//   process_open_fds: a readdir of /proc/self/fd on the libuv thread pool, started by a
//     scrape; the scrape shows the count of the previous one (a leak shows all the same)
//   process_max_fds: /proc/self/limits read once, off the loop, at start
// Dropped (no cheap source, or of little use to an operator of this daemon): heap spaces,
// active handles/requests/resources, GC durations, virtual memory, process_heap_bytes.
import { readdir, readFile } from 'node:fs/promises';
import { getHeapStatistics } from 'node:v8';
import client from 'prom-client';

/** The names this module registers (the tests and docs/metrics.md list them). */
export const PROCESS_METRIC_NAMES = [
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'process_resident_memory_bytes',
  'process_open_fds',
  'process_max_fds',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  'nodejs_version_info',
] as const;

const START_TIME_SECONDS = Math.round(Date.now() / 1000 - process.uptime());

function gaugeOf(registry: client.Registry): (name: string, help: string, value: () => number | undefined) => void {
  return (name, help, value) => {
    new client.Gauge({ name, help, registers: [registry], collect() {
      const v = value();
      if (v !== undefined) this.set(v);
    } });
  };
}

/**
 * The process_* series and nodejs_version_info: the whole process's, whichever thread
 * collects them (getrusage, /proc/self), so the HTTP listener's thread does (scrape.ts).
 */
export function registerProcessMetrics(registry: client.Registry): void {
  const registers = [registry];
  const cpuCounter = (name: string, help: string, seconds: (u: NodeJS.CpuUsage) => number): void => {
    new client.Counter({ name, help, registers, collect() { this.reset(); this.inc(seconds(process.cpuUsage())); } });
  };
  cpuCounter('process_cpu_user_seconds_total', 'User CPU time spent in seconds.', (u) => u.user / 1e6);
  cpuCounter('process_cpu_system_seconds_total', 'System CPU time spent in seconds.', (u) => u.system / 1e6);
  cpuCounter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (u) => (u.user + u.system) / 1e6);
  const gauge = gaugeOf(registry);
  gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', () => START_TIME_SECONDS);
  gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage.rss());
  gauge('process_open_fds', 'Number of open file descriptors (counted off the event loop at the previous scrape).', openFds());
  gauge('process_max_fds', 'Maximum number of open file descriptors.', maxFds());
  const [major, minor, patch] = process.versions.node.split('.');
  const version = new client.Gauge({ name: 'nodejs_version_info', help: 'Node.js version info.', labelNames: ['version', 'major', 'minor', 'patch'], registers });
  version.set({ version: process.version, major: major ?? '', minor: minor ?? '', patch: patch ?? '' }, 1);
}

/** The nodejs_* heap series: the heap of the isolate of the thread that collects them, so the daemon's thread does. */
export function registerHeapMetrics(registry: client.Registry): void {
  const gauge = gaugeOf(registry);
  gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', () => getHeapStatistics().total_heap_size);
  gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', () => getHeapStatistics().used_heap_size);
  gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', () => getHeapStatistics().external_memory);
}

/** The fd count of the last finished readdir; each call starts the next one unless one runs. */
function openFds(): () => number | undefined {
  let last: number | undefined;
  let running = false;
  return () => {
    if (!running && process.platform === 'linux') {
      running = true;
      readdir('/proc/self/fd').then(
        (names) => void (last = names.length - 1), // less the descriptor readdir itself holds
        () => undefined,
      ).finally(() => (running = false));
    }
    return last;
  };
}

function maxFds(): () => number | undefined {
  let max: number | undefined;
  if (process.platform === 'linux') {
    readFile('/proc/self/limits', 'utf8').then((text) => {
      const soft = /^Max open files\s+(\d+)/m.exec(text)?.[1];
      if (soft !== undefined) max = Number(soft);
    }, () => undefined);
  }
  return () => max;
}
