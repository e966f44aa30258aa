// Voting-disk access over one SectorDevice: open and verify the header, read a whole
// area in one I/O, write one host's slot, and the operator actions init / wipe / inspect.
// All bytes go through layout.ts (the one codec); all I/O through SectorDevice.
import { randomUUID } from 'node:crypto';
import type { HeartbeatPayload, SlotRead, SlotRecord, VotePayload } from '../core/types.js';
import { YcsError, isYcsError } from '../errors.js';
import { SectorDevice, type OpenOptions as DeviceOpenOptions } from './device.js';
import {
  LAYOUT_SPAN_BYTES, VOTE_COPIES, buildHeader, decodeHeader, decodeHeartbeatArea, decodeHeartbeatSlot, decodeVoteAreaCopies, decodeVotePair,
  encodeHeader, encodeHeartbeatSlot, encodeVoteSlot, planLayout, slotOffset, type DiskHeader,
} from './layout.js';
import { chooseCopy, voteCopyToWrite } from './vote-copies.js';

export interface IoOptions {
  timeoutMs?: number;
}

/** How to reach the device: I/O deadline, iSCSI initiator identity, health reports. */
export type DeviceAccess = Pick<DeviceOpenOptions, 'ioTimeoutMs' | 'iscsiInitiatorIqn' | 'iscsiIsid' | 'onHealthChange'>;

function openDevice(path: string, access: DeviceAccess, readOnly: boolean): Promise<SectorDevice> {
  const { ioTimeoutMs, iscsiInitiatorIqn, iscsiIsid, onHealthChange } = access;
  return SectorDevice.open(path, { readOnly, ioTimeoutMs, iscsiInitiatorIqn, iscsiIsid, onHealthChange });
}

export interface OpenOptions extends DeviceAccess {
  readOnly?: boolean;
  /** Refuse a disk of another cluster (E_FOREIGN_CLUSTER): the daemon passes its config's UUID. */
  expectedClusterUuid?: string;
}

/** Reads and verifies the header of an open device. */
export async function readHeader(device: SectorDevice, io: IoOptions = {}): Promise<DiskHeader> {
  const { path, logicalSectorSize, sizeBytes } = device.info;
  const header = decodeHeader(await device.read(0, logicalSectorSize, io));
  if (header.sectorSize !== logicalSectorSize) {
    throw new YcsError('E_CORRUPT', `${path} was initialized with ${header.sectorSize}-byte sectors but the device has ${logicalSectorSize}-byte sectors`, { device: path });
  }
  const { minDeviceBytes } = planLayout(header.sectorSize, header.hostSlots);
  if (sizeBytes < minDeviceBytes) {
    throw new YcsError('E_CORRUPT', `${path} holds ${sizeBytes} bytes but its header needs ${minDeviceBytes} (truncated copy?)`, { device: path });
  }
  return header;
}

/** An initialized voting disk, open for the heartbeat and vote traffic of one host. */
export class VotingDisk {
  /**
   * Per host: the vote copy the next write goes to. Learned from the disk before the first
   * write, then moved to the other copy only when a write is acknowledged: a failed or
   * timed-out write is retried on the same copy, so the copy holding the last durable
   * record is never written over, and a torn write cannot take it down.
   */
  private readonly voteTarget = new Map<number, number>();
  /**
   * One buffer per area, reused by the periodic whole-area reads (every 100-250 ms) so they
   * allocate nothing: lent to one read at a time, and a concurrent read of the same area
   * gets a fresh one. Decoding copies everything out before the buffer is lent again.
   */
  private readonly spareAreas = new Map<number, Buffer>();

  private constructor(
    readonly device: SectorDevice,
    readonly header: DiskHeader,
  ) {}

  static async open(path: string, options: OpenOptions = {}): Promise<VotingDisk> {
    const device = await openDevice(path, options, options.readOnly ?? false);
    try {
      const header = await readHeader(device);
      const expected = options.expectedClusterUuid?.toLowerCase();
      if (expected !== undefined && header.clusterUuid !== expected) {
        throw new YcsError('E_FOREIGN_CLUSTER', `${path} belongs to cluster '${header.clusterName}' (${header.clusterUuid}), not ${expected}`, { device: path });
      }
      return new VotingDisk(device, header);
    } catch (err) {
      await device.close();
      throw err;
    }
  }

  get path(): string {
    return this.device.info.path;
  }

  /** Every host's heartbeat slot, host 1 first, from ONE read of the heartbeat area. */
  async readHeartbeats(io: IoOptions = {}): Promise<SlotRead<HeartbeatPayload>[]> {
    return this.readArea(this.header.heartbeatAreaOffset, this.header.heartbeatAreaSizeBytes, io, (area) => decodeHeartbeatArea(area, this.header));
  }

  /** Every host's vote (Disk Paxos block), host 1 first, from ONE read of the vote area: the copy chooseCopy picks. */
  async readVotes(io: IoOptions = {}): Promise<SlotRead<VotePayload>[]> {
    return (await this.readVoteCopies(io)).map((copies) => chooseCopy(copies));
  }

  /** Both copies of every host's vote, copies[host - 1] = [A, B], from ONE read (what `disk show --all` prints). */
  async readVoteCopies(io: IoOptions = {}): Promise<SlotRead<VotePayload>[][]> {
    return this.readArea(this.header.voteAreaOffset, this.header.voteAreaSizeBytes, io, (area) => decodeVoteAreaCopies(area, this.header));
  }

  private async readArea<T>(offset: number, length: number, io: IoOptions, decode: (area: Buffer) => T): Promise<T> {
    const area = this.spareAreas.get(offset) ?? Buffer.allocUnsafe(length);
    this.spareAreas.delete(offset);
    try {
      await this.device.readInto(offset, area, io);
      return decode(area);
    } finally {
      this.spareAreas.set(offset, area);
    }
  }

  /** Reads one host's own sectors (heartbeat, vote pair): what a starting daemon needs about itself. */
  async readOwnSlots(hostId: number, io: IoOptions = {}): Promise<{ heartbeat: SlotRead<HeartbeatPayload>; vote: SlotRead<VotePayload> }> {
    const [hb, votes] = await Promise.all([
      this.device.read(slotOffset(this.header, 'heartbeat', hostId), this.header.sectorSize, io),
      this.readOwnVotePair(hostId, io),
    ]);
    const heartbeat = decodeHeartbeatSlot(hb, { clusterUuid: this.header.clusterUuid, hostId });
    return { heartbeat, vote: chooseCopy(votes) };
  }

  private async readOwnVotePair(hostId: number, io: IoOptions): Promise<SlotRead<VotePayload>[]> {
    const pair = await this.device.read(slotOffset(this.header, 'vote', hostId), VOTE_COPIES * this.header.sectorSize, io);
    return decodeVotePair(pair, this.header, hostId);
  }

  /** Writes `record` into its host's heartbeat sector; durable when the promise resolves. */
  async writeHeartbeat(record: SlotRecord<HeartbeatPayload>, io: IoOptions = {}): Promise<void> {
    const sector = encodeHeartbeatSlot(record, this.header.clusterUuid, this.header.sectorSize);
    await this.device.write(slotOffset(this.header, 'heartbeat', record.hostId), sector, io);
  }

  /**
   * Writes `record` into one of its host's two vote copies (never the one holding the last
   * durable record); durable when the promise resolves. Callers never have two vote
   * writes of one host in flight (the engine's rounds keep one request per disk and kind).
   */
  async writeVote(record: SlotRecord<VotePayload>, io: IoOptions = {}): Promise<void> {
    const sector = encodeVoteSlot(record, this.header.clusterUuid, this.header.sectorSize);
    let copy = this.voteTarget.get(record.hostId);
    if (copy === undefined) {
      copy = voteCopyToWrite(await this.readOwnVotePair(record.hostId, io));
      this.voteTarget.set(record.hostId, copy);
    }
    await this.device.write(slotOffset(this.header, 'vote', record.hostId, copy), sector, io);
    this.voteTarget.set(record.hostId, (copy + 1) % VOTE_COPIES); // acknowledged: protect it
  }

  close(): Promise<void> {
    return this.device.close();
  }
}

// ---------------------------------------------------------------- operator actions

export interface InitOptions extends DeviceAccess {
  clusterName: string;
  hostSlots: number;
  diskIndex?: number; // default 1
  diskCount?: number; // default 1
  clusterUuid?: string; // default: a new random UUID; give the first disk's to add disks 2..5
  force?: boolean;
  createdAtMs?: number; // default Date.now()
  onProgress?: ZeroProgress;
}

/** Called after each chunk zeroed by init or wipe: bytes zeroed so far of the total. */
export type ZeroProgress = (doneBytes: number, totalBytes: number) => void;

const ZERO_CHUNK_BYTES = 1024 * 1024;

/** Writes zeros over [start, end) in chunks; both ends are sector multiples. */
async function zeroRange(device: SectorDevice, start: number, end: number, onProgress?: ZeroProgress): Promise<void> {
  const zeros = Buffer.alloc(Math.min(ZERO_CHUNK_BYTES, Math.max(end - start, 0)));
  for (let offset = start; offset < end; offset += ZERO_CHUNK_BYTES) {
    const length = Math.min(ZERO_CHUNK_BYTES, end - offset);
    await device.write(offset, length === zeros.length ? zeros : zeros.subarray(0, length));
    onProgress?.(offset + length, end);
  }
}

/** What sector 0 holds now: a header, nothing, or something that is not ours. */
type SectorZero =
  | { kind: 'empty' }
  | { kind: 'header'; header: DiskHeader }
  | { kind: 'ycs-unreadable'; error: YcsError } // ycs magic but corrupt or newer version
  | { kind: 'other' };

async function inspectSectorZero(device: SectorDevice): Promise<SectorZero> {
  const sector = await device.read(0, device.info.logicalSectorSize);
  try {
    return { kind: 'header', header: decodeHeader(sector) };
  } catch (err) {
    if (isYcsError(err, 'E_NOT_INITIALIZED')) return { kind: 'empty' };
    if (sector.subarray(0, 8).toString('latin1') === 'YCSVDISK') return { kind: 'ycs-unreadable', error: err as YcsError };
    return { kind: 'other' };
  }
}

function refuseOverwrite(path: string, found: SectorZero): YcsError | undefined {
  switch (found.kind) {
    case 'empty':
      return undefined;
    case 'header': {
      const h = found.header;
      return new YcsError('E_ALREADY_INITIALIZED', `${path} is already voting disk ${h.diskIndex} of ${h.diskCount} of cluster '${h.clusterName}' (${h.clusterUuid}); add --force to overwrite it`, { device: path });
    }
    case 'ycs-unreadable':
      return new YcsError('E_ALREADY_INITIALIZED', `${path} holds a ycs voting disk header that this version cannot read (${found.error.toLine()}); add --force to overwrite it`, { device: path });
    case 'other':
      return new YcsError('E_REFUSED', `${path} is not zeroed and holds no ycs header (data of another program?); add --force to overwrite it`, { device: path });
  }
}

function deviceTooSmall(device: SectorDevice, minDeviceBytes: number, hostSlots: number): YcsError {
  const { path, sizeBytes, logicalSectorSize } = device.info;
  return new YcsError('E_DEVICE_TOO_SMALL', `${path} holds ${sizeBytes} bytes; ${hostSlots} host slots with ${logicalSectorSize}-byte sectors need at least ${minDeviceBytes}`, { device: path });
}

/**
 * Initializes a voting disk. Refusals (already initialized, foreign data, too small,
 * read-only) happen before any byte is written. The header is written last, after the
 * old header and both areas are zeroed, so an interrupted init is never a valid disk.
 */
export async function initVotingDisk(path: string, options: InitOptions): Promise<DiskHeader> {
  const device = await openDevice(path, options, false);
  try {
    const { logicalSectorSize, sizeBytes, readOnly } = device.info;
    const header = buildHeader({
      clusterUuid: options.clusterUuid ?? randomUUID(),
      clusterName: options.clusterName,
      sectorSize: logicalSectorSize,
      hostSlots: options.hostSlots,
      diskIndex: options.diskIndex ?? 1,
      diskCount: options.diskCount ?? 1,
      createdAtMs: options.createdAtMs ?? Date.now(),
    });
    if (readOnly) throw new YcsError('E_READ_ONLY', `${path} is read-only`, { device: path, op: 'open' });
    const { minDeviceBytes } = planLayout(logicalSectorSize, options.hostSlots);
    if (sizeBytes < minDeviceBytes) throw deviceTooSmall(device, minDeviceBytes, options.hostSlots);
    const refusal = refuseOverwrite(path, await inspectSectorZero(device));
    if (refusal && !options.force) throw refusal;
    await zeroRange(device, 0, logicalSectorSize); // invalidate the old header first
    await zeroRange(device, logicalSectorSize, wipeEnd(device), options.onProgress);
    await device.write(0, encodeHeader(header));
    return header;
  } finally {
    await device.close();
  }
}

/** End of what wipe and init zero: the v1 span, cut to the device and whole sectors. */
function wipeEnd(device: SectorDevice): number {
  const { sizeBytes, logicalSectorSize } = device.info;
  const end = Math.min(LAYOUT_SPAN_BYTES, sizeBytes);
  return end - (end % logicalSectorSize);
}

/**
 * Zeroes the header (first, so an interrupted wipe is not a valid disk) and every byte v1
 * can use. Refuses a device that neither is zero nor carries the ycs magic unless forced:
 * a mistyped device path must not cost someone's file system.
 */
export async function wipeVotingDisk(path: string, options: DeviceAccess & { force?: boolean; onProgress?: ZeroProgress } = {}): Promise<{ bytesZeroed: number }> {
  const device = await openDevice(path, options, false);
  try {
    if (device.info.readOnly) throw new YcsError('E_READ_ONLY', `${path} is read-only`, { device: path, op: 'open' });
    const found = await inspectSectorZero(device);
    if (found.kind === 'other' && !options.force) {
      throw new YcsError('E_REFUSED', `${path} does not look like a ycs voting disk (no YCSVDISK header); add --force to zero it anyway`, { device: path });
    }
    const end = wipeEnd(device);
    await zeroRange(device, 0, device.info.logicalSectorSize);
    await zeroRange(device, device.info.logicalSectorSize, end, options.onProgress);
    return { bytesZeroed: end };
  } finally {
    await device.close();
  }
}

export interface DiskInspection {
  device: SectorDevice['info'];
  header: DiskHeader;
  heartbeats: SlotRead<HeartbeatPayload>[];
  /** Per host, the copy a reader trusts (chooseCopy). */
  votes: SlotRead<VotePayload>[];
  /** Per host, both vote copies [A, B]. */
  voteCopies: SlotRead<VotePayload>[][];
}

/** Reads everything on a voting disk, read-only (what `ycsctl disk show` prints). */
export async function inspectVotingDisk(path: string, options: DeviceAccess = {}): Promise<DiskInspection> {
  const disk = await VotingDisk.open(path, { readOnly: true, ...options });
  try {
    const heartbeats = await disk.readHeartbeats();
    const voteCopies = await disk.readVoteCopies();
    const votes = voteCopies.map((copies) => chooseCopy(copies));
    return { device: disk.device.info, header: disk.header, heartbeats, votes, voteCopies };
  } finally {
    await disk.close();
  }
}
