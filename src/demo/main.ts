#!/usr/bin/env node
// The demo (`npm run demo`, the README's first command): a three-host ycs cluster on
// 127.0.0.1 with a file-backed voting disk and a demo database, no SAN and no root.
// It prints the status table, kills -9 the master's database, prints the failover as it
// happens, the status table after it and the measured failover time, and stops
// everything it started (also on errors and on Ctrl-C).
//
// With --etcd the master lease is held on a local 3-member etcd cluster (Debian's
// etcd-server, started and removed by the demo) instead of the voting disk.
//
//   node dist/src/demo/main.js [--etcd] [--keep-running] [--dir DIR]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderStatus, type StatusResult } from '../cli/status.js';
import { YcsError, toYcsError } from '../errors.js';
import { REPO_ROOT, agreedMaster, startLocalCluster, type LocalCluster, type StatusOrError } from './cluster.js';
import { startEtcdCluster, type EtcdCluster } from './etcd.js';
import { LogTail, describeEvent, type LogRecord } from './logs.js';

const RESOURCE = 'YasDB';
const STARTUP_TIMEOUT_MS = 30_000;
const FAILOVER_TIMEOUT_MS = 20_000;

interface DemoOptions {
  keepRunning: boolean;
  etcd: boolean;
  dir: string | undefined;
}

const tty = process.stdout.isTTY === true;
const style = (code: string) => (text: string): string => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = style('1');
const dim = style('2');
const red = style('31');
const green = style('32');

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

function parse(argv: string[]): DemoOptions {
  try {
    const { values } = parseArgs({ args: argv, options: { 'keep-running': { type: 'boolean' }, etcd: { type: 'boolean' }, dir: { type: 'string' } }, strict: true });
    return { keepRunning: values['keep-running'] === true, etcd: values.etcd === true, dir: values.dir };
  } catch (err) {
    throw new YcsError('E_USAGE', `${(err as Error).message}; usage: demo [--etcd] [--keep-running] [--dir DIR]`);
  }
}

/** The agreed master whose database is primary, as every answering host sees it. */
function masterWithPrimary(statuses: Map<number, StatusOrError>, not?: number): { master: number; status: StatusResult } | undefined {
  const master = agreedMaster(statuses);
  if (master === undefined || master === not) return undefined;
  const status = statuses.get(master);
  if (status === undefined || status instanceof YcsError) return undefined;
  const everyoneSees = [...statuses.values()].every((s) => !(s instanceof YcsError) && s.resourceMasters[0] === master);
  return everyoneSees ? { master, status } : undefined;
}

/** The host that appended the last line of the demo database's data file. */
export function lastWriter(dataPath: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(dataPath, 'utf8');
  } catch {
    return undefined;
  }
  const last = text.trimEnd().split('\n').at(-1) ?? '';
  const match = /host=(\d+)/.exec(last);
  return match === null ? undefined : Number(match[1]);
}

async function waitForWriter(cluster: LocalCluster, hostId: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (lastWriter(cluster.dataPath(RESOURCE)) !== hostId) {
    if (Date.now() > deadline) throw new YcsError('E_INTERNAL', `the ${RESOURCE} database of host ${hostId} did not write within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

class FailoverStory {
  readonly events: Array<{ atMs: number; hostId: number; record: LogRecord }> = [];
  constructor(private readonly killedAtMs: number) {}

  onRecord(hostId: number, record: LogRecord): void {
    const event = describeEvent(record);
    if (event === undefined) return;
    this.events.push({ atMs: record.time - this.killedAtMs, hostId, record });
    const at = `${record.time - this.killedAtMs >= 0 ? '+' : ''}${((record.time - this.killedAtMs) / 1000).toFixed(3)}s`;
    const text = event.seed ? bold(event.text) : event.text;
    say(`  ${dim(at.padStart(8))}  host ${hostId}  ${event.who.padEnd(5)}  ${text}`);
  }

  /** Time from the kill to the first line matching `test` on `hostId`. */
  firstMs(hostId: number, test: (r: LogRecord) => boolean): number | undefined {
    return this.events.find((e) => e.hostId === hostId && test(e.record))?.atMs;
  }
}

async function runDemo(cluster: LocalCluster): Promise<void> {
  say(bold('Waiting for the cluster to elect a master and start its database ...'));
  const t0 = Date.now();
  const before = await cluster.waitFor((s) => masterWithPrimary(s), STARTUP_TIMEOUT_MS, 'a master with a primary database');
  // The promote action returning is not enough: wait until the database really writes.
  await waitForWriter(cluster, before.master, STARTUP_TIMEOUT_MS);
  say(`${green('ok')}: host ${before.master} is master and its database writes, after ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  say(`$ ycsctl status   ${dim(`(on host ${before.master})`)}`);
  say(renderStatus(before.status));
  say();

  const pid = cluster.dbPid(before.master, RESOURCE);
  if (pid === undefined) throw new YcsError('E_INTERNAL', `no ${RESOURCE} pid file on host ${before.master}`);
  const killedAtMs = Date.now();
  const story = new FailoverStory(killedAtMs);
  const sources = cluster.hosts.flatMap((h) => [
    { hostId: h.id, path: h.logPath },
    { hostId: h.id, path: join(h.runDir, `${RESOURCE}.log`) },
  ]);
  const tail = new LogTail(sources, (hostId, record) => story.onRecord(hostId, record));
  process.kill(pid, 'SIGKILL');
  say(red(bold(`kill -9 ${pid}: the ${RESOURCE} database of master host ${before.master}`)));
  say(dim('  time since the kill, host, source, event'));
  tail.start();
  let after: { master: number; status: StatusResult };
  try {
    after = await cluster.waitFor((s) => masterWithPrimary(s, before.master), FAILOVER_TIMEOUT_MS, 'a new master with a primary database');
    await waitForWriter(cluster, after.master, FAILOVER_TIMEOUT_MS);
    await new Promise((r) => setTimeout(r, 1500)); // let the old master restart its database as a standby
  } finally {
    tail.stop();
  }
  const elected = story.firstMs(after.master, (r) => r.msg === 'ycs run as primary successfully');
  const dbPrimary = story.firstMs(after.master, (r) => r.proc === 'demo-db' && r.msg.startsWith('demo-db is now primary'));
  say();
  say(`$ ycsctl status   ${dim(`(on host ${after.master})`)}`);
  say(renderStatus(await cluster.status(after.master)));
  say();
  const ms = (v: number | undefined): string => (v === undefined ? 'not seen' : `${Math.round(v)} ms`);
  say(bold(`Failover: host ${before.master} -> host ${after.master}`));
  say(`  new master ("ycs run as primary successfully"):  ${ms(elected)} after the kill`);
  say(`  new ${RESOURCE} primary ("demo-db is now primary"): ${ms(dbPrimary)} after the kill`);
}

function printExploreHelp(cluster: LocalCluster): void {
  const cli = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
  say();
  say(bold('The cluster keeps running (--keep-running). Try:'));
  for (const h of cluster.hosts) say(`  node ${cli} status --socket ${h.socketPath}`);
  for (const h of cluster.hosts) if (h.httpUrl !== undefined) say(`  curl -s ${h.httpUrl}/metrics | grep ^ycs_   # live page: ${h.httpUrl}/`);
  say(`  kill -9 $(cat ${join(cluster.hosts[0]?.runDir ?? '', `${RESOURCE}.pid`)})   # host 1's database`);
  say(`Logs: ${cluster.dir}/host*/ycs.log, databases: ${cluster.dir}/host*/run/${RESOURCE}.log`);
  say('Press Ctrl-C to stop everything.');
}

async function main(): Promise<number> {
  const options = parse(process.argv.slice(2));
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'ycs-demo-'));
  let cluster: LocalCluster | undefined;
  let etcd: EtcdCluster | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      if (cluster !== undefined) {
        say(dim('stopping every host (ycsm, ycs, databases) ...'));
        await cluster.stop();
      }
      await etcd?.stop();
      if (ownsDir && !options.keepRunning) rmSync(dir, { recursive: true, force: true });
    })());
  let interrupted = false;
  let wake: (() => void) | undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      say(`\n${signal}: stopping`);
      wake?.();
      void cleanup().then(() => process.exit(options.keepRunning ? 0 : 130));
    });
  }
  try {
    if (options.etcd) {
      say(bold(`Starting a 3-member etcd cluster in ${dir} (127.0.0.1)`));
      etcd = await startEtcdCluster(join(dir, 'etcd'), { heartbeatMs: 100, electionMs: 1_000 });
      say(`  endpoints ${etcd.endpoints().join(', ')}`);
    }
    const arbitration = etcd === undefined ? 'file-backed voting disk' : 'master lease on etcd';
    say(bold(`Starting a 3-host ycs cluster in ${dir} (127.0.0.1, ${arbitration}, resource ${RESOURCE})`));
    const etcdOption = etcd === undefined ? {} : { etcd: { endpoints: etcd.endpoints(), prefix: '/ycs/demo' } };
    // The HTTP listener (metrics, health endpoints, live page) on loopback, for exploring.
    cluster = await startLocalCluster({ dir, hosts: 3, resources: [RESOURCE], http: options.keepRunning, ...etcdOption });
    await runDemo(cluster);
    if (options.keepRunning && !interrupted) {
      printExploreHelp(cluster);
      await new Promise<void>((resolve) => (wake = resolve));
    }
    return 0;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${toYcsError(err).toLine()}\n`);
    process.exit(1);
  },
);
