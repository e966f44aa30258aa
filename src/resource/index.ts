// One call for the daemon: the resource manager and the heartbeat-2 server, wired so
// that every authority change reaches the connected databases at once and every
// database and agent event reaches the engine as an input.
//
//   const resources = await startResources({ ..., onInput: (input) => step(input) });
//   for (const out of outputs) if (out.kind === 'resource') resources.handle(out);
//   on a grant-lease output: resources.grant(out) (heartbeat 2 answers from the grants);
//   on a revoke-authority output: resources.revokePrimary(reason);
//   startMonitorHeartbeat({ managedPids: () => resources.managedPids() });
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Input, Output, ResourceEvent } from '../core/types.js';
import { Hb2Leases } from './hb2-leases.js';
import { Hb2Server } from './hb2-server.js';
import { ResourceManager, type ResourceOutput } from './manager.js';
import type { ResourceConfig } from './types.js';
import { loadNative } from '../native.js';

export { runAgent, agentSucceeded, agentEnvironment } from './agent.js';
export { Hb2Server } from './hb2-server.js';
export { ResourceManager } from './manager.js';
export type { ResourceAuthority, ResourceOutput } from './manager.js';
export * from './types.js';

export type GrantOutput = Extract<Output, { kind: 'grant-lease' }>;

export interface ResourceStackOptions {
  resources: ResourceConfig[];
  hostId: number;
  /** The shared heartbeat-2 socket, for resources without their own `socket`. */
  hbSocketPath: string;
  /** NETWORK_HB_TIMEOUT. */
  networkHbTimeoutMs: number;
  logger: Logger;
  now: () => number;
  onInput: (input: Input) => void;
  /** A database fell silent for NETWORK_HB_TIMEOUT (Hb2ServerOptions.onSilence). */
  onHeartbeat2Timeout?: (resource: number) => void;
  socketMode?: number;
  /** Default: SO_PEERCRED through the native addon (hello pids are then verified). */
  peerPid?: (socket: Socket) => number | undefined;
}

export interface ResourceStack {
  manager: ResourceManager;
  /** One per distinct socket path. */
  servers: Hb2Server[];
  /** Carries out an engine 'resource' output. */
  handle(output: ResourceOutput): void;
  /** Carries out an engine 'grant-lease' output: heartbeat-2 acks answer with what is left of it. */
  grant(output: GrantOutput): void;
  /** Takes primary authority and every primary grant away from every database at once (revoke-authority). */
  revokePrimary(reason: string): void;
  /** Database pids to report to ycsm (killed with ycs when ycs hangs). */
  managedPids(): number[];
  /** Stops monitors, waits for running actions, closes the sockets. Resources keep running. */
  close(): Promise<void>;
}

interface PeercredNative {
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
}

/** The peer's pid via SO_PEERCRED, or undefined when the addon or the fd is unavailable. */
export function nativePeerPid(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  try {
    return loadNative<PeercredNative>().peerCredentials(fd).pid;
  } catch {
    return undefined;
  }
}

function groupBySocket(resources: ResourceConfig[], shared: string): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  resources.forEach((resource, index) => {
    const path = resource.socket ?? shared;
    groups.set(path, [...(groups.get(path) ?? []), index]);
  });
  return groups;
}

export async function startResources(opts: ResourceStackOptions): Promise<ResourceStack> {
  const manager = new ResourceManager({
    resources: opts.resources,
    hostId: opts.hostId,
    hbSocketPath: opts.hbSocketPath,
    logger: opts.logger,
    now: opts.now,
    onInput: opts.onInput,
  });
  const leases = new Hb2Leases(opts.resources.length, opts.now);
  const servers: Hb2Server[] = [];
  try {
    for (const [socketPath, served] of groupBySocket(opts.resources, opts.hbSocketPath)) {
      const server = new Hb2Server({
        socketPath,
        served,
        resources: manager.names,
        hostId: opts.hostId,
        authority: (index) => manager.authority(index),
        leaseMs: (index) => leases.leaseMs(index, manager.authority(index).role),
        silenceTimeoutMs: opts.networkHbTimeoutMs,
        onEvent: (resource: number, event: ResourceEvent) => opts.onInput({ kind: 'resource-event', nowMs: opts.now(), resource, event }),
        logger: opts.logger,
        ...(opts.onHeartbeat2Timeout === undefined ? {} : { onSilence: opts.onHeartbeat2Timeout }),
        peerPid: opts.peerPid ?? nativePeerPid,
        ...(opts.socketMode === undefined ? {} : { socketMode: opts.socketMode }),
      });
      await server.listen();
      servers.push(server);
    }
  } catch (err) {
    await Promise.all(servers.map((server) => server.close()));
    throw err;
  }
  manager.onAuthorityChange((index, authority) => {
    for (const server of servers) server.pushAuthority(index, authority);
  });
  manager.start();
  return {
    manager,
    servers,
    handle: (output) => manager.handle(output),
    grant: (output) => leases.grant(output.resource, output.untilMs, output.primary),
    revokePrimary: (reason) => {
      leases.revokePrimary();
      manager.revokePrimary(reason);
    },
    managedPids: () => servers.flatMap((server) => server.connectedPids()),
    close: async () => {
      await manager.stop();
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}
