// A local 3-member etcd cluster for the demo (--etcd) and the tests: Debian's etcd-server
// (3.4) on 127.0.0.1 with free client and peer ports, data directories under the
// caller's directory, members that can be killed, restarted and paused (SIGSTOP). Stop it
// when done; every member is also killed when this process exits.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeTcpPort as freePort } from './ports.js';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  /** More client URLs the member listens on (one per ycs host, so a test can cut one host off with nftables). */
  extraClientUrls: string[];
  peerUrl: string;
  dataDir: string;
  logFile: string;
  process: ChildProcess | undefined;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Client URLs of every member (what ycs would be configured with). */
  endpoints(): string[];
  /** The member that is the Raft leader now (asks etcdctl). */
  leader(): Promise<EtcdMember>;
  /** Moves Raft leadership to another member; returns the new leader's name. */
  moveLeader(): Promise<string>;
  kill(name: string): Promise<void>;
  start(name: string): Promise<void>;
  pause(name: string): void;
  resume(name: string): void;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

export function etcdctl(endpoints: string[], args: string[]): string {
  return execFileSync('etcdctl', ['--endpoints', endpoints.join(','), '--command-timeout=3s', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ETCDCTL_API: '3' },
  });
}

interface EndpointStatus {
  Endpoint: string;
  Status: { header: { member_id: string }; leader: string };
}

/** Member ids are 64-bit: kept as decimal strings (a JSON number would lose digits). */
function statuses(endpoints: string[]): EndpointStatus[] {
  const text = etcdctl(endpoints, ['endpoint', 'status', '-w', 'json']).replace(/"(member_id|leader|cluster_id)":(\d+)/g, '"$1":"$2"');
  return JSON.parse(text) as EndpointStatus[];
}

export interface EtcdOptions {
  size?: number;
  /** Extra client URLs per member (default 0). */
  extraClientUrls?: number;
  /** Raft timing; default 50 ms heartbeat and 500 ms election (etcd's defaults scaled down). */
  heartbeatMs?: number;
  electionMs?: number;
}

export async function startEtcdCluster(dir: string, opts: EtcdOptions = {}): Promise<EtcdCluster> {
  const size = opts.size ?? 3;
  const members: EtcdMember[] = [];
  for (let i = 1; i <= size; i++) {
    const name = `etcd${i}`;
    const extraClientUrls: string[] = [];
    for (let j = 0; j < (opts.extraClientUrls ?? 0); j++) extraClientUrls.push(`http://127.0.0.1:${await freePort()}`);
    members.push({
      name,
      extraClientUrls,
      clientUrl: `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: join(dir, `${name}.data`),
      logFile: join(dir, `${name}.log`),
      process: undefined,
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const token = `ycs-test-${process.pid}-${Date.now()}`;
  const launch = (m: EtcdMember, state: 'new' | 'existing'): void => {
    mkdirSync(m.dataDir, { recursive: true });
    const log = openSync(m.logFile, 'a');
    const child = spawn('etcd', [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', [m.clientUrl, ...m.extraClientUrls].join(','), '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', initialCluster, '--initial-cluster-state', state, '--initial-cluster-token', token,
      '--heartbeat-interval', String(opts.heartbeatMs ?? 50), '--election-timeout', String(opts.electionMs ?? 500), '--logger', 'zap', '--log-outputs', 'stderr',
    ], { stdio: ['ignore', log, log] });
    closeSync(log);
    running.add(child);
    child.once('exit', () => running.delete(child));
    m.process = child;
  };
  for (const m of members) launch(m, 'new');
  const cluster: EtcdCluster = {
    members,
    endpoints: () => members.map((m) => m.clientUrl),
    async leader() {
      const live = members.filter((m) => m.process !== undefined).map((m) => m.clientUrl);
      const s = statuses(live);
      const leaderId = s[0]?.Status.leader;
      const index = s.findIndex((e) => e.Status.header.member_id === leaderId);
      const m = members.find((x) => x.clientUrl === s[index]?.Endpoint);
      if (m === undefined) throw new Error('no etcd leader');
      return m;
    },
    async moveLeader() {
      const live = members.filter((m) => m.process !== undefined).map((m) => m.clientUrl);
      const s = statuses(live);
      const leaderId = s[0]!.Status.leader;
      const leader = s.find((e) => e.Status.header.member_id === leaderId)!;
      const target = s.find((e) => e.Status.header.member_id !== leaderId)!;
      etcdctl([leader.Endpoint], ['move-leader', BigInt(target.Status.header.member_id).toString(16)]);
      return members.find((m) => m.clientUrl === target.Endpoint)!.name;
    },
    async kill(name) {
      const m = members.find((x) => x.name === name)!;
      const child = m.process;
      if (child === undefined) return;
      m.process = undefined;
      if (child.exitCode !== null || child.signalCode !== null) return; // already gone (a test's cleanup killed it)
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    },
    async start(name) {
      const m = members.find((x) => x.name === name)!;
      if (m.process === undefined) launch(m, 'existing');
      await waitHealthy([m.clientUrl], m);
    },
    pause(name) {
      members.find((x) => x.name === name)?.process?.kill('SIGSTOP');
    },
    resume(name) {
      members.find((x) => x.name === name)?.process?.kill('SIGCONT');
    },
    async stop() {
      for (const m of members) await cluster.kill(m.name);
      for (const m of members) rmSync(m.dataDir, { recursive: true, force: true });
    },
  };
  try {
    await waitHealthy(cluster.endpoints(), members[0]!);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

async function waitHealthy(endpoints: string[], m: EtcdMember, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      etcdctl(endpoints, ['endpoint', 'health']);
      return;
    } catch (err) {
      last = (err as { stderr?: string }).stderr ?? String(err);
    }
    await sleep(100);
  }
  throw new Error(`etcd did not become healthy: ${last}\n${readFileSync(m.logFile, 'utf8').slice(-2000)}`);
}

process.once('exit', () => {
  for (const child of running) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
});
