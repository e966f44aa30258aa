// One call for the daemon: the resource manager and the heartbeat-2 server, wired so
// that every authority change reaches the connected databases at once and every
// database and agent event reaches the engine as an input.
//
//   const resources = await startResources({ ..., onInput: (input) => step(input) });
//   for (const out of outputs) if (out.kind === 'resource') resources.handle(out);
//   startMonitorHeartbeat({ managedPids: () => resources.managedPids() });
import type { Logger } from 'pino';
import type { Input, ResourceEvent } from '../core/types.js';
import { Hb2Server } from './hb2-server.js';
import { ResourceManager, type ResourceOutput } from './manager.js';
import type { ResourceConfig } from './types.js';

export { runAgent, agentSucceeded, agentEnvironment } from './agent.js';
export { Hb2Server } from './hb2-server.js';
export { ResourceManager } from './manager.js';
export type { ResourceAuthority, ResourceOutput } from './manager.js';
export * from './types.js';

export interface ResourceStackOptions {
  resources: ResourceConfig[];
  hostId: number;
  /** Heartbeat-2 socket path (config), passed to agents as YCS_HB_SOCKET. */
  hbSocketPath: string;
  /** Lease per ack; should not exceed what is left of this host's master window. */
  leaseMs: number | ((index: number) => number);
  /** NETWORK_HB_TIMEOUT. */
  networkHbTimeoutMs: number;
  logger: Logger;
  now: () => number;
  onInput: (input: Input) => void;
  socketMode?: number;
}

export interface ResourceStack {
  manager: ResourceManager;
  server: Hb2Server;
  /** Carries out an engine 'resource' output. */
  handle(output: ResourceOutput): void;
  /** Database pids to report to ycsm (killed with ycs when ycs hangs). */
  managedPids(): number[];
  /** Stops monitors, waits for running actions, closes the socket. Resources keep running. */
  close(): Promise<void>;
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
  const serverOptions = {
    socketPath: opts.hbSocketPath,
    resources: manager.names,
    hostId: opts.hostId,
    authority: (index: number) => manager.authority(index),
    leaseMs: opts.leaseMs,
    silenceTimeoutMs: opts.networkHbTimeoutMs,
    onEvent: (resource: number, event: ResourceEvent) =>
      opts.onInput({ kind: 'resource-event', nowMs: opts.now(), resource, event }),
    logger: opts.logger,
  };
  const server = new Hb2Server(opts.socketMode === undefined ? serverOptions : { ...serverOptions, socketMode: opts.socketMode });
  manager.onAuthorityChange((index, authority) => server.pushAuthority(index, authority));
  await server.listen();
  manager.start();
  return {
    manager,
    server,
    handle: (output) => manager.handle(output),
    managedPids: () => server.connectedPids(),
    close: async () => {
      await manager.stop();
      await server.close();
    },
  };
}
