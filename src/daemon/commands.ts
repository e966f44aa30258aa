// The daemon's control-socket command table (docs/control-protocol.md, docs/daemon.md).
// Handlers only read the daemon's state or ask it to act; they never touch the engine's
// internals, so a bad request cannot corrupt anything.
import { YcsError, type YcsErrorCode } from '../errors.js';
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

/** The parts of the `fence-status` result (FenceStatus, keys as hex) the handlers check. */
interface FenceStatusSummary {
  driver: 'pr' | 'none';
  hostId: number;
  devices: Array<{
    device: string;
    reservation?: { hostId: number | null } | null;
    error?: { code: string; message: string };
  }>;
}

/**
 * An operator fence is the reservation holder's act (docs/fencing.md), as with
 * `ycsctl fence --device`: at the storage any registrant may PREEMPT, so without this a
 * command run on a standby would evict hosts behind the master's back. The local host
 * itself is left to target.fence, which refuses it whatever the reservation.
 */
async function refuseUnlessReservationHolder(target: CommandTarget, host: unknown): Promise<void> {
  const status = (await target.fenceStatus()) as FenceStatusSummary;
  if (host === status.hostId) return;
  if (status.driver === 'none') {
    throw new YcsError('E_PR_UNSUPPORTED', 'this cluster runs with fencing "none": nothing to fence at the storage (an evicted host stops by its self-fence deadline)');
  }
  for (const d of status.devices) {
    if (d.error !== undefined) {
      throw new YcsError(d.error.code as YcsErrorCode, `cannot read the reservation on ${d.device}: ${d.error.message}`, { device: d.device });
    }
    const holder = d.reservation?.hostId;
    if (holder !== status.hostId) {
      const held = d.reservation == null ? 'nobody holds it' : `it is held by ${holder === null || holder === undefined ? 'a foreign key' : `host ${holder}`}`;
      throw new YcsError('E_NOT_MASTER', `refusing: this host (${status.hostId}) does not hold the reservation on ${d.device} (${held}); fence from the master`, { device: d.device });
    }
  }
}

/** Re-registration follows admission (docs/fencing.md): only a standby or the master may. */
function refuseUnlessAdmitted(target: CommandTarget): void {
  const role = (target.status() as { role?: unknown } | null)?.role;
  if (role !== 'standby' && role !== 'master') {
    throw new YcsError('E_REFUSED', `this host is not admitted to the cluster (role ${String(role)}): it registers again by itself once the cluster admits it`);
  }
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
    fence: {
      mutating: true,
      handler: async (args) => {
        await refuseUnlessReservationHolder(target, args.host);
        return target.fence(args.host);
      },
    },
    unfence: {
      mutating: true,
      handler: () => {
        refuseUnlessAdmitted(target);
        return target.unfence();
      },
    },
    'fence-status': { mutating: false, handler: () => target.fenceStatus() },
  };
}
