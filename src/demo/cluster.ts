// A local ycs cluster on one machine: per host its own config, ycsm -> ycs -> demo
// database (through packaging/agents/demo-db-agent.sh), all sharing one voting disk
// (by default a sparse file; tests pass loop devices or iSCSI LUNs). Used by the demo
// (src/demo/main.ts) and the integration tests. Works without root on 127.0.0.1.
//
// Knobs kept open for the integration tests: per-host addresses (127.0.0.x or addresses
// inside network namespaces), a command prefix per host (`ip netns exec NS`), the voting
// disks and fencing driver, and the seed's timeouts.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StatusResult } from '../core/view.js';
import { callDaemon } from '../control/client.js';
import type { FencingDriver } from '../config/index.js';
import { initVotingDisk } from '../disk/voting-disk.js';
import { YcsError } from '../errors.js';
import { writeClusterKey } from '../net/key.js';
import { freeTcpPort, freeUdpPort } from './ports.js';

/** The repository root: the nearest directory above this file holding package.json (src/ or dist/src/). */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const REPO_ROOT = findRepoRoot();
export const DEMO_AGENT = join(REPO_ROOT, 'packaging', 'agents', 'demo-db-agent.sh');
const DIST = join(REPO_ROOT, 'dist');
const YCSM_MAIN = join(DIST, 'src', 'monitor', 'main.js');
const DEMO_DB_MAIN = join(DIST, 'scripts', 'demo-db.js');

export const DEMO_VOTING_DISK_BYTES = 64 * 1024 * 1024;
/** Slots on a disk the launcher initializes: room for tests that add hosts. */
const DEFAULT_HOST_SLOTS = 16;

export interface LocalClusterTimeouts {
  DISK_HB_KEEP_ALIVE?: number;
  NETWORK_HB_TIMEOUT?: number;
  DISK_HB_INTERVAL?: number;
}

export interface LocalClusterOptions {
  /** Everything the cluster writes goes under here (the caller owns and removes it). */
  dir: string;
  hosts?: number;
  cluster?: string;
  /** Voting disks (1, 3 or 5); missing plain paths are created as 64 MiB sparse files. Default: one in `dir`. */
  votingDisks?: string[];
  /** Initialize the voting disks (with --force). Default true. */
  initDisks?: boolean;
  dataDisks?: string[];
  fencing?: FencingDriver;
  /** Resource names, each run by the demo agent. Default ['YasDB']. */
  resources?: string[];
  /** UDP port of host i is basePort + i - 1. Default: free ports picked at start. */
  basePort?: number;
  /** Address of host i at index i - 1. Default 127.0.0.1 for every host. */
  addresses?: string[];
  timeouts?: LocalClusterTimeouts;
  monitorIntervalMs?: number;
  logLevel?: 'debug' | 'info';
  /** A command prefix per host, e.g. ['ip', 'netns', 'exec', 'ns1']. */
  commandPrefix?: (hostId: number) => string[];
  /** etcd mode (arbitration "etcd"): the etcd cluster to hold the master lease; no voting disk is made. */
  etcd?: { endpoints: string[] | ((hostId: number) => string[]); prefix?: string; leaseTtlMs?: number };
  /** Turn on each host's HTTP listener (metrics, health endpoints) on a free port of 127.0.0.1. */
  http?: boolean;
  /** Extra environment for a host's ycsm (e.g. NOTIFY_SOCKET, as systemd would set it). */
  hostEnv?: (hostId: number) => Record<string, string>;
  /** Extra environment for every resource agent of a host (and so its database), e.g. the campaign's data-LUN mode. */
  resourceEnv?: (host: LocalHost) => Record<string, string>;
  /** Extra ycsm flags (e.g. ['--max-restarts', '3']). */
  ycsmArgs?: string[];
}

export interface LocalHost {
  id: number;
  dir: string;
  configPath: string;
  socketPath: string;
  /** ycsm's stdout and stderr: ycsm's and ycs's JSON log lines. */
  logPath: string;
  /** Where the demo database of resource R logs: `${runDir}/${R}.log`. */
  runDir: string;
  ycsm: ChildProcess | undefined;
  /** With `http`: the base URL of the host's HTTP listener, e.g. http://127.0.0.1:PORT. */
  httpUrl?: string;
}

export type StatusOrError = StatusResult | YcsError;

export interface LocalCluster {
  dir: string;
  hosts: LocalHost[];
  resources: string[];
  /** The shared file every demo database appends to while primary. */
  dataPath(resource?: string): string;
  host(hostId: number): LocalHost;
  status(hostId: number, timeoutMs?: number): Promise<StatusResult>;
  /** Every started host's status (or the error asking it). */
  statuses(): Promise<Map<number, StatusOrError>>;
  /** Polls statuses until `predicate` returns a value other than undefined/false. */
  waitFor<T>(predicate: (s: Map<number, StatusOrError>) => T | undefined | false, timeoutMs: number, what?: string): Promise<T>;
  /** The host that reports itself master, when exactly one does and the others agree. */
  masterId(): Promise<number | undefined>;
  /** The running demo database's pid of a host (from the agent's pid file), or undefined. */
  dbPid(hostId: number, resource?: string): number | undefined;
  /** Starts (or restarts) ycsm on one host. */
  startHost(hostId: number): void;
  /** SIGTERM to ycsm; waits for it to exit (SIGKILL after timeoutMs). */
  stopHost(hostId: number, timeoutMs?: number): Promise<void>;
  /** Stops every host, then kills whatever is left (ycs, databases). Removes nothing. */
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function checkBuilt(): void {
  for (const path of [YCSM_MAIN, DEMO_DB_MAIN, DEMO_AGENT]) {
    if (!existsSync(path)) throw new YcsError('E_NOT_FOUND', `${path} is missing: run \`npm run build\` first`);
  }
}

interface HostPlan {
  id: number;
  address: string;
  port: number;
}

async function planHosts(opts: LocalClusterOptions): Promise<HostPlan[]> {
  const count = opts.hosts ?? 3;
  const plans: HostPlan[] = [];
  for (let id = 1; id <= count; id++) {
    const address = opts.addresses?.[id - 1] ?? '127.0.0.1';
    let port: number;
    try {
      port = opts.basePort !== undefined ? opts.basePort + id - 1 : await freeUdpPort(address);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new YcsError('E_INVALID_ARGUMENT', `cannot pick a free UDP port on ${address} (${code}); give basePort for addresses inside a network namespace`);
    }
    plans.push({ id, address, port });
  }
  return plans;
}

function hostConfig(opts: LocalClusterOptions, plans: HostPlan[], host: LocalHost, votingDisks: string[], resources: string[]): object {
  const gid = process.getgid?.() ?? 0;
  return {
    cluster: opts.cluster ?? 'demo',
    hostId: host.id,
    hosts: plans,
    ...(opts.etcd !== undefined ? { arbitration: 'etcd', etcd: etcdSection(opts.etcd, host.id) } : { votingDisks }),
    ...(opts.dataDisks !== undefined ? { dataDisks: opts.dataDisks } : {}),
    fencing: opts.fencing ?? 'none',
    keyFile: join(opts.dir, 'cluster.key'),
    // Written out even at their defaults: ycsm reads DISK_HB_KEEP_ALIVE from the file.
    DISK_HB_KEEP_ALIVE: 2000,
    NETWORK_HB_TIMEOUT: 2000,
    ...opts.timeouts,
    resources: resources.map((name) => ({
      name,
      agent: DEMO_AGENT,
      monitorIntervalMs: opts.monitorIntervalMs ?? 1000,
      actionTimeoutMs: 10_000,
      heartbeat2: 'required', // the demo database uses heartbeat 2: primary only once it connected
      env: {
        DEMO_DB_SCRIPT: DEMO_DB_MAIN,
        DEMO_DB_DATA: join(opts.dir, `${name}.data`),
        DEMO_DB_RUN: host.runDir,
        NODE: process.execPath,
        ...opts.resourceEnv?.(host),
      },
    })),
    controlSocket: host.socketPath,
    controlGroup: String(gid), // without root the daemon can only give the socket its own group
    runDir: host.runDir,
    logLevel: opts.logLevel ?? 'info',
    ...(host.httpUrl !== undefined ? { http: { address: '127.0.0.1', port: Number(new URL(host.httpUrl).port) } } : {}),
  };
}

function etcdSection(e: NonNullable<LocalClusterOptions['etcd']>, hostId: number): object {
  return { ...e, endpoints: typeof e.endpoints === 'function' ? e.endpoints(hostId) : e.endpoints };
}

async function prepareDisks(opts: LocalClusterOptions, hostCount: number): Promise<string[]> {
  const disks = opts.votingDisks ?? [join(opts.dir, 'voting-disk.img')];
  for (const path of disks) {
    // A missing plain path becomes a sparse file (costs no space); devices must exist.
    if (path.startsWith('/dev/') || path.startsWith('iscsi://') || existsSync(path)) continue;
    writeFileSync(path, '');
    truncateSync(path, DEMO_VOTING_DISK_BYTES);
  }
  if (opts.initDisks ?? true) {
    let clusterUuid: string | undefined;
    for (const [i, path] of disks.entries()) {
      const header = await initVotingDisk(path, {
        clusterName: opts.cluster ?? 'demo',
        hostSlots: Math.max(DEFAULT_HOST_SLOTS, hostCount),
        diskIndex: i + 1,
        diskCount: disks.length,
        force: true,
        ...(clusterUuid !== undefined ? { clusterUuid } : {}),
        ...(path.startsWith('iscsi://') ? { iscsiInitiatorIqn: 'iqn.2026-01.io.ycs:launcher' } : {}),
      });
      clusterUuid = header.clusterUuid;
    }
  }
  return disks;
}

export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  checkBuilt();
  mkdirSync(opts.dir, { recursive: true });
  const resources = opts.resources ?? ['YasDB'];
  const plans = await planHosts(opts);
  const votingDisks = opts.etcd !== undefined ? [] : await prepareDisks(opts, plans.length);
  const keyPath = join(opts.dir, 'cluster.key');
  if (!existsSync(keyPath)) writeClusterKey(keyPath);
  chmodSync(keyPath, 0o600);
  const hosts: LocalHost[] = [];
  for (const plan of plans) {
    const dir = join(opts.dir, `host${plan.id}`);
    const runDir = join(dir, 'run');
    mkdirSync(runDir, { recursive: true });
    const httpUrl = opts.http === true ? `http://127.0.0.1:${await freeTcpPort()}` : undefined;
    hosts.push({ id: plan.id, dir, configPath: join(dir, 'ycs.json'), socketPath: join(dir, 'ycs.sock'), logPath: join(dir, 'ycs.log'), runDir, ycsm: undefined, ...(httpUrl ? { httpUrl } : {}) });
  }
  for (const host of hosts) {
    writeFileSync(host.configPath, `${JSON.stringify(hostConfig(opts, plans, host, votingDisks, resources), null, 2)}\n`);
  }
  const cluster = new Cluster(opts, hosts, resources);
  for (const host of hosts) cluster.startHost(host.id);
  return cluster;
}

class Cluster implements LocalCluster {
  /** Every ycs pid seen in the logs, so stop() can kill a ycs whose ycsm was lost. */
  constructor(
    private readonly opts: LocalClusterOptions,
    readonly hosts: LocalHost[],
    readonly resources: string[],
  ) {}

  get dir(): string {
    return this.opts.dir;
  }

  dataPath(resource = this.resources[0] ?? 'YasDB'): string {
    return join(this.opts.dir, `${resource}.data`);
  }

  host(hostId: number): LocalHost {
    const host = this.hosts.find((h) => h.id === hostId);
    if (host === undefined) throw new YcsError('E_INVALID_ARGUMENT', `no host ${hostId} in this cluster`);
    return host;
  }

  startHost(hostId: number): void {
    const host = this.host(hostId);
    if (host.ycsm !== undefined && host.ycsm.exitCode === null && host.ycsm.signalCode === null) return;
    const log = openSync(host.logPath, 'a');
    const prefix = this.opts.commandPrefix?.(hostId) ?? [];
    const argv = [...prefix, process.execPath, YCSM_MAIN, '--config', host.configPath, ...(this.opts.ycsmArgs ?? [])];
    const [command, ...args] = argv;
    try {
      host.ycsm = spawn(command ?? process.execPath, args, {
        detached: true, // its own process group: stop() can reach everything it started
        stdio: ['ignore', log, log],
        env: { ...withoutYcsCommand(process.env), ...this.opts.hostEnv?.(hostId) },
      });
    } finally {
      closeSync(log);
    }
    host.ycsm.on('error', () => undefined);
  }

  async status(hostId: number, timeoutMs = 2000): Promise<StatusResult> {
    return (await callDaemon(this.host(hostId).socketPath, 'status', {}, timeoutMs)) as StatusResult;
  }

  async statuses(): Promise<Map<number, StatusOrError>> {
    const entries = await Promise.all(
      this.hosts.map(async (h): Promise<[number, StatusOrError]> => {
        try {
          return [h.id, await this.status(h.id, 1000)];
        } catch (err) {
          return [h.id, err instanceof YcsError ? err : new YcsError('E_INTERNAL', String(err))];
        }
      }),
    );
    return new Map(entries);
  }

  async waitFor<T>(predicate: (s: Map<number, StatusOrError>) => T | undefined | false, timeoutMs: number, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate(await this.statuses());
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new YcsError('E_INTERNAL', `timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(100);
    }
  }

  async masterId(): Promise<number | undefined> {
    return agreedMaster(await this.statuses());
  }

  dbPid(hostId: number, resource = this.resources[0] ?? 'YasDB'): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.host(hostId).runDir, `${resource}.pid`), 'utf8').trim());
      return Number.isSafeInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async stopHost(hostId: number, timeoutMs = 15_000): Promise<void> {
    const child = this.host(hostId).ycsm;
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    signal(child.pid, 'SIGTERM');
    const timer = setTimeout(() => signal(-(child.pid ?? 0), 'SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    // A test may have left a host SIGSTOPped: a stopped process cannot stop normally.
    for (const host of this.hosts) {
      const pids = [host.ycsm?.pid, ...ycsPidsFromLog(host.logPath), ...this.resources.map((r) => this.dbPid(host.id, r))];
      for (const pid of pids) if (pid !== undefined) signal(pid, 'SIGCONT');
    }
    await Promise.all(this.hosts.map((h) => this.stopHost(h.id)));
    for (const host of this.hosts) {
      for (const pid of ycsPidsFromLog(host.logPath)) if (alive(pid)) signal(-pid, 'SIGKILL');
      for (const resource of this.resources) {
        const pid = this.dbPid(host.id, resource);
        if (pid !== undefined) signal(pid, 'SIGKILL');
      }
    }
  }
}

/** ycsm must start the ycs of this tree, whatever the caller's environment says. */
function withoutYcsCommand(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy.YCSM_YCS_COMMAND;
  return copy;
}

/** Pids of every ycs a host's ycsm started (ycs logs carry proc "ycs" and its pid). */
export function ycsPidsFromLog(logPath: string): number[] {
  let text: string;
  try {
    text = readFileSync(logPath, 'utf8');
  } catch {
    return [];
  }
  const pids = new Set<number>();
  for (const match of text.matchAll(/"proc":"ycs","host":\d+,"pid":(\d+)/g)) pids.add(Number(match[1]));
  return [...pids];
}

/** The master every answering host agrees on, when the host itself says it is master. */
export function agreedMaster(statuses: Map<number, StatusOrError>): number | undefined {
  const answers = [...statuses.values()].filter((s): s is StatusResult => !(s instanceof YcsError));
  const masters = answers.filter((s) => s.role === 'master');
  if (masters.length !== 1) return undefined;
  const id = masters[0]?.selfId;
  const stillStarting = answers.some((s) => s.role !== 'evicted' && s.role !== 'leaving' && s.masterId !== id);
  return stillStarting ? undefined : id;
}
