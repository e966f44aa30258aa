// The campaign's fault kinds on real processes: how each is injected, how long it is
// held (drawn from the seed), and how it is healed. Durations are in units of the
// cluster's timeout T (DISK_HB_KEEP_ALIVE = NETWORK_HB_TIMEOUT): "short" stays below
// it, "long" goes well past it and past the promotion wait.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Prng } from '../../test/sim/prng.js';
import { freezeTree, signalAll } from '../../test/helpers/processes.js';
import type { CampaignCluster } from './cluster.js';
import { HOSTS } from './cluster.js';
import { lossTable, partitionTable } from './nft.js';
import type { Poller } from './poller.js';

export interface FaultContext {
  cc: CampaignCluster;
  poller: Poller;
  prng: Prng;
  timeoutMs: number;
  /** The host the fault hits (the master or a standby); faults on the disk or network hit all. */
  target: number;
}

export interface Injected {
  /** What was done, for the log: "host 2 SIGSTOP 1400 ms". */
  detail: string;
  /** Held this long after the injection, then healed. */
  holdMs: number;
  heal(): Promise<void> | void;
}

export interface FaultKind {
  name: string;
  title: string;
  /** False: the fault hits the shared disk or every link, not one host. */
  perHost: boolean;
  inject(ctx: FaultContext): Promise<Injected> | Injected;
}

const NOTHING = (): void => undefined;

/** Waits (up to 5 s) until the host's ycsm child has exited, so startHost starts a new one. */
async function ycsmExited(ctx: FaultContext): Promise<void> {
  const child = ctx.cc.fx.cluster.host(ctx.target).ycsm;
  const deadline = performance.now() + 5000;
  while (child !== undefined && child.exitCode === null && child.signalCode === null && performance.now() < deadline) await sleep(20);
}

function kill(pid: number | undefined, what: string): void {
  if (pid === undefined) throw new Error(`E_CAMPAIGN: no ${what} pid`);
  process.kill(pid, 'SIGKILL');
}

const dbKill: FaultKind = {
  name: 'db-kill', title: 'kill -9 of a database', perHost: true,
  inject(ctx) {
    kill(ctx.cc.fx.cluster.dbPid(ctx.target), `host ${ctx.target} database`);
    return { detail: `host ${ctx.target} database kill -9`, holdMs: 0, heal: NOTHING };
  },
};

const ycsKill: FaultKind = {
  name: 'ycs-kill', title: 'kill -9 of ycs (ycsm restarts it)', perHost: true,
  inject(ctx) {
    kill(ctx.cc.fx.ycsPid(ctx.target), `host ${ctx.target} ycs`);
    return { detail: `host ${ctx.target} ycs kill -9`, holdMs: 0, heal: NOTHING };
  },
};

const ycsmKill: FaultKind = {
  name: 'ycsm-kill', title: 'kill -9 of ycsm (ycs runs on unsupervised; then "systemd" restarts the service)', perHost: true,
  inject(ctx) {
    const ycs = ctx.cc.fx.ycsPid(ctx.target);
    kill(ctx.cc.fx.cluster.host(ctx.target).ycsm?.pid, `host ${ctx.target} ycsm`);
    const holdMs = Math.round(ctx.prng.range(1, 3) * ctx.timeoutMs);
    return {
      detail: `host ${ctx.target} ycsm kill -9, service restart after ${holdMs} ms`, holdMs,
      async heal() {
        // The service restart: the orphaned ycs goes with its unit's cgroup, a new ycsm starts.
        if (ycs !== undefined) signalAll([ycs], 'SIGKILL');
        await ycsmExited(ctx);
        ctx.cc.fx.cluster.startHost(ctx.target);
      },
    };
  },
};

const hostKill: FaultKind = {
  name: 'host-kill', title: 'kill -9 of a whole host (ycsm, ycs, database), then a reboot', perHost: true,
  inject(ctx) {
    signalAll(ctx.cc.fx.hostPids(ctx.target), 'SIGKILL');
    const holdMs = Math.round(ctx.prng.range(0.5, 2) * ctx.timeoutMs);
    return {
      detail: `host ${ctx.target} kill -9 of every process, reboot after ${holdMs} ms`, holdMs,
      async heal() {
        await ycsmExited(ctx);
        ctx.cc.fx.cluster.startHost(ctx.target);
      },
    };
  },
};

function hostStop(name: string, title: string, lo: number, hi: number): FaultKind {
  return {
    name, title, perHost: true,
    inject(ctx) {
      ctx.poller.frozen.add(ctx.target);
      const frozen = freezeTree(ctx.cc.fx.hostPids(ctx.target));
      const holdMs = Math.round(ctx.prng.range(lo, hi) * ctx.timeoutMs);
      return {
        detail: `host ${ctx.target} SIGSTOP for ${holdMs} ms (${frozen.length} processes)`, holdMs,
        heal() {
          signalAll(frozen, 'SIGCONT');
          ctx.poller.frozen.delete(ctx.target);
        },
      };
    },
  };
}

function partition(name: string, title: string, oneWay: boolean): FaultKind {
  return {
    name, title, perHost: true,
    inject(ctx) {
      const self = [ctx.cc.addresses[ctx.target - 1] ?? ''];
      const rest = HOSTS.filter((h) => h !== ctx.target).map((h) => ctx.cc.addresses[h - 1] ?? '');
      const table = partitionTable(self, rest, ctx.cc.ports(), oneWay);
      const holdMs = Math.round(ctx.prng.range(1.5, 3) * ctx.timeoutMs);
      return { detail: `host ${ctx.target} cut off ${oneWay ? 'one way (its packets dropped)' : 'both ways'} for ${holdMs} ms`, holdMs, heal: () => table.heal() };
    },
  };
}

function diskStall(name: string, title: string, lo: number, hi: number): FaultKind {
  return {
    name, title, perHost: false,
    inject(ctx) {
      const pid = ctx.cc.votingPid();
      if (pid === undefined) throw new Error('E_CAMPAIGN: no voting tgtd pid');
      process.kill(pid, 'SIGSTOP');
      const holdMs = Math.round(ctx.prng.range(lo, hi) * ctx.timeoutMs);
      return { detail: `voting tgtd SIGSTOP for ${holdMs} ms`, holdMs, heal: () => { process.kill(pid, 'SIGCONT'); } };
    },
  };
}

const packetLoss: FaultKind = {
  name: 'packet-loss', title: 'random loss of heartbeat packets between all hosts (nft numgen)', perHost: false,
  inject(ctx) {
    const percent = ctx.prng.int(10, 60);
    const table = lossTable(ctx.cc.addresses, ctx.cc.ports(), percent);
    const holdMs = Math.round(ctx.prng.range(1.5, 3) * ctx.timeoutMs);
    return { detail: `${percent}% heartbeat packet loss for ${holdMs} ms`, holdMs, heal: () => table.heal() };
  },
};

export const FAULT_KINDS: FaultKind[] = [
  dbKill, ycsKill, ycsmKill, hostKill,
  hostStop('host-stop-short', 'SIGSTOP of a whole host below the timeouts', 0.15, 0.5),
  hostStop('host-stop-long', 'SIGSTOP of a whole host well past the timeouts', 2.5, 3.5),
  partition('partition', 'one host cut off from the others, both ways (disk shared)', false),
  partition('partition-oneway', "one host's outgoing heartbeats dropped (disk shared)", true),
  diskStall('disk-stall-short', 'voting LUN target SIGSTOP shorter than the disk timeout', 0.2, 0.5),
  diskStall('disk-stall-long', 'voting LUN target SIGSTOP longer than the disk timeout', 1.5, 2.5),
  packetLoss,
];
