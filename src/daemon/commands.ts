// The daemon's control-socket command table (docs/control-protocol.md, docs/daemon.md).
// Handlers only read the daemon's state or ask it to act; they never touch the engine's
// internals, so a bad request cannot corrupt anything.
import type { CommandTable } from './control.js';

export interface CommandTarget {
  /** The `status` result: statusFromView(engine.view(), names) plus daemon facts. */
  status(): unknown;
  /** Starts a normal stop (engine input 'shutdown'); resolves once it has begun. */
  shutdown(reason: string): void;
  fence(host: unknown): Promise<unknown>;
  unfence(): Promise<unknown>;
  fenceStatus(): Promise<unknown>;
}

export function daemonCommands(target: CommandTarget): CommandTable {
  return {
    status: { mutating: false, handler: () => target.status() },
    shutdown: {
      mutating: true,
      handler: (_args, peer) => {
        target.shutdown(`shutdown requested over the control socket by pid ${peer.pid} (uid ${peer.uid})`);
        return { stopping: true };
      },
    },
    fence: { mutating: true, handler: (args) => target.fence(args.host) },
    unfence: { mutating: true, handler: () => target.unfence() },
    'fence-status': { mutating: false, handler: () => target.fenceStatus() },
  };
}
