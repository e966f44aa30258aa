// The disk shell: opens the voting disks named by the config, checks that they belong
// to this cluster and to each other, computes this run's incarnation, and carries out the
// engine's disk outputs (read-disk, write-heartbeat, write-vote), answering each request
// exactly once with disk-read-done / disk-write-done / disk-failed.
//
// It never queues work of its own: the engine keeps at most one request per disk and kind
// in flight (src/core/disk-rounds.ts), and a stuck I/O never blocks the event loop (the
// native layer runs every I/O on the device's own thread and fails it at its deadline).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { ownEpochFloor } from '../core/arbitration.js';
import type { DiskError, Input, Output } from '../core/types.js';
import { VotingDisk, type DeviceAccess } from '../disk/voting-disk.js';
import { YcsError, toYcsError } from '../errors.js';
import type { Config } from '../config/index.js';

type Direction = 'read' | 'write';

export type DiskOutput = Extract<Output, { kind: 'read-disk' | 'write-heartbeat' | 'write-vote' }>;

/** The engine's name for a failed I/O, from the error code the device layer gives it. */
export function diskErrorOf(err: unknown): DiskError {
  switch (toYcsError(err).code) {
    case 'E_DISK_TIMEOUT':
      return 'timeout';
    case 'E_DISK_STALLED':
      return 'stalled';
    case 'E_RESERVATION_CONFLICT':
      return 'reservation-conflict';
    default:
      return 'io';
  }
}

/**
 * How this host reaches a device. iSCSI LUNs get a per-host initiator name and a pinned
 * ISID (docs/daemon.md): the target keys registrations by I_T nexus, so a reconnect
 * must present the same one.
 */
export function deviceAccessFor(path: string, config: Config, onHealth?: DeviceAccess['onHealthChange']): DeviceAccess {
  const access: DeviceAccess = { ioTimeoutMs: config.timeouts.diskIoDeadlineMs };
  if (onHealth !== undefined) access.onHealthChange = onHealth;
  if (path.startsWith('iscsi://')) {
    const cluster = config.cluster.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
    access.iscsiInitiatorIqn = `iqn.2026-01.io.ycs:${cluster}.host${config.hostId}`;
    access.iscsiIsid = 0x400000_000000n + BigInt(config.hostId); // type 01b "random", fixed per host
  }
  return access;
}

async function closeAll(disks: VotingDisk[]): Promise<void> {
  await Promise.all(disks.map((d) => d.close().catch(() => undefined)));
}

/** Checks a set of opened disks against the config and each other; throws one YcsError. */
function checkDiskSet(disks: VotingDisk[], config: Config): string {
  const first = disks[0];
  if (first === undefined) throw new YcsError('E_CONFIG', 'no voting disk configured');
  const maxHostId = Math.max(...config.hosts.map((h) => h.id));
  const seenIndexes = new Set<number>();
  for (const disk of disks) {
    const h = disk.header;
    if (h.clusterName !== config.cluster) {
      throw new YcsError('E_FOREIGN_CLUSTER', `${disk.path} belongs to cluster '${h.clusterName}' (${h.clusterUuid}), not '${config.cluster}'`, { device: disk.path });
    }
    if (h.clusterUuid !== first.header.clusterUuid) {
      throw new YcsError('E_FOREIGN_CLUSTER', `${disk.path} has cluster UUID ${h.clusterUuid} but ${first.path} has ${first.header.clusterUuid}: two clusters share the name '${config.cluster}'`, { device: disk.path });
    }
    if (h.diskCount !== disks.length) {
      throw new YcsError('E_CONFIG', `${disk.path} is voting disk ${h.diskIndex} of ${h.diskCount}, but the config lists ${disks.length}`, { device: disk.path });
    }
    if (seenIndexes.has(h.diskIndex)) {
      throw new YcsError('E_CONFIG', `${disk.path} is voting disk ${h.diskIndex} of ${h.diskCount}, and so is another configured disk (the same disk twice?)`, { device: disk.path });
    }
    seenIndexes.add(h.diskIndex);
    if (h.hostSlots < maxHostId) {
      throw new YcsError('E_CONFIG', `${disk.path} has ${h.hostSlots} host slots but the config names host ${maxHostId}`, { device: disk.path });
    }
  }
  return first.header.clusterUuid;
}

/** Opens every configured voting disk (engine disk i = config.votingDisks[i]) and checks the set. */
export async function openVotingDisks(config: Config, log: Logger): Promise<{ disks: VotingDisk[]; clusterUuid: string }> {
  const disks: VotingDisk[] = [];
  try {
    for (const path of config.votingDisks) {
      const onHealth: DeviceAccess['onHealthChange'] = (health, device) => {
        if (health === 'stalled') log.warn({ device, health }, `voting disk ${device} is stalled: an I/O passed its deadline`);
        else if (health === 'ok') log.info({ device, health }, `voting disk ${device} answers again`);
      };
      const disk = await VotingDisk.open(path, deviceAccessFor(path, config, onHealth));
      disks.push(disk);
      const { kind, logicalSectorSize, ioEngine } = disk.device.info;
      log.info({ device: path, kind, logicalSectorSize, ioEngine }, `voting disk ${path} opened (${kind}, ${logicalSectorSize}-byte sectors, I/O through ${ioEngine})`);
    }
    const clusterUuid = checkDiskSet(disks, config);
    return { disks, clusterUuid };
  } catch (err) {
    await closeAll(disks);
    throw err;
  }
}

export function readFloor(path: string): number {
  try {
    const value = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(value) && value > 0 ? value : 0;
  } catch {
    return 0;
  }
}

/** What this host's own slots say at start: the new run's incarnation and the engine's epoch floor. */
export interface StartState {
  incarnation: number;
  /** Highest epoch own sectors show (heartbeat epoch, vote decided epoch and instance - 1) on every readable disk. */
  epochFloor: number;
}

/**
 * Reads this host's own slots on every disk (a majority must answer) and derives the
 * run's incarnation: one more than the highest of these slots and of the floor persisted
 * by the previous run, so peers' replay guards and the Disk Paxos recovery can tell this
 * run from every earlier one. The new value is persisted (atomically) before it is used.
 * The epoch floor (docs/engine.md, "Epoch floor") comes from the same reads: the first
 * heartbeat of this run goes out before its first read and would erase that trace.
 */
export async function readStartState(disks: VotingDisk[], hostId: number, floorPath: string): Promise<StartState> {
  const reads = await Promise.allSettled(disks.map((d) => d.readOwnSlots(hostId)));
  const ok = reads.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (ok.length < Math.floor(disks.length / 2) + 1) {
    const failure = reads.find((r) => r.status === 'rejected');
    const why = failure?.status === 'rejected' ? toYcsError(failure.reason).toLine() : 'unknown';
    throw new YcsError('E_IO', `cannot read this host's slots on a majority of the voting disks (${why})`);
  }
  let highest = readFloor(floorPath);
  for (const own of ok) {
    for (const slot of [own.heartbeat, own.vote]) {
      if (slot.record !== undefined) highest = Math.max(highest, slot.record.incarnation);
    }
  }
  const incarnation = highest + 1;
  mkdirSync(dirname(floorPath), { recursive: true });
  writeFileSync(`${floorPath}.tmp`, `${incarnation}\n`);
  renameSync(`${floorPath}.tmp`, floorPath);
  return { incarnation, epochFloor: ownEpochFloor(ok) };
}

/** This run's incarnation (see readStartState). */
export async function nextIncarnation(disks: VotingDisk[], hostId: number, floorPath: string): Promise<number> {
  return (await readStartState(disks, hostId, floorPath)).incarnation;
}

export interface DiskShellOptions {
  disks: VotingDisk[];
  /** Feeds the answer of each request back to the engine. */
  feed: (input: Input) => void;
  now: () => number;
  log: Logger;
}

export class DiskShell {
  /**
   * Last outcome per disk and direction, so a stalled disk is logged once, not four
   * times a second (reads and writes apart: a fenced host still reads).
   */
  private readonly lastError = new Map<string, DiskError | 'ok'>();

  constructor(private readonly opts: DiskShellOptions) {}

  execute(output: DiskOutput): void {
    const disk = this.opts.disks[output.disk];
    const { requestId } = output;
    if (disk === undefined) {
      this.fail(output.disk, 'read', requestId, new YcsError('E_INTERNAL', `engine asked for disk ${output.disk}`));
      return;
    }
    const index = output.disk;
    const now = this.opts.now;
    switch (output.kind) {
      case 'read-disk':
        void this.run(index, 'read', requestId, async () => {
          const [heartbeats, votes] = await Promise.all([disk.readHeartbeats(), disk.readVotes()]);
          return { kind: 'disk-read-done', nowMs: now(), requestId, disk: index, heartbeats, votes };
        });
        return;
      case 'write-heartbeat':
        void this.run(index, 'write', requestId, async () => {
          await disk.writeHeartbeat(output.record);
          return { kind: 'disk-write-done', nowMs: now(), requestId, disk: index, area: 'heartbeat' };
        });
        return;
      case 'write-vote':
        void this.run(index, 'write', requestId, async () => {
          await disk.writeVote(output.record);
          return { kind: 'disk-write-done', nowMs: now(), requestId, disk: index, area: 'vote' };
        });
    }
  }

  async close(): Promise<void> {
    await closeAll(this.opts.disks);
  }

  /** Runs one I/O and feeds exactly one answer; the engine's step runs outside the try. */
  private async run(disk: number, direction: Direction, requestId: number, io: () => Promise<Input>): Promise<void> {
    let answer: Input;
    try {
      answer = await io();
    } catch (err) {
      this.fail(disk, direction, requestId, err);
      return;
    }
    this.ok(disk, direction);
    this.opts.feed(answer);
  }

  private ok(disk: number, direction: Direction): void {
    const key = `${disk}:${direction}`;
    const before = this.lastError.get(key);
    if (before !== undefined && before !== 'ok') {
      this.opts.log.info({ disk, direction, path: this.opts.disks[disk]?.path }, `voting disk ${disk} ${direction}s succeed again`);
    }
    this.lastError.set(key, 'ok');
  }

  private fail(disk: number, direction: Direction, requestId: number, err: unknown): void {
    const error = diskErrorOf(err);
    const key = `${disk}:${direction}`;
    if (this.lastError.get(key) !== error) {
      const e = toYcsError(err);
      this.opts.log.warn({ disk, direction, path: this.opts.disks[disk]?.path, error, code: e.code, errno: e.errno }, `voting disk ${disk} ${direction} failed (${error}): ${e.message}`);
    }
    this.lastError.set(key, error);
    this.opts.feed({ kind: 'disk-failed', nowMs: this.opts.now(), requestId, disk, error });
  }
}
