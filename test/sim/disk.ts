// Simulated voting disks. Each host reaches each disk through one serial I/O channel (the
// native layer's dedicated thread per device): a request starts when the previous one
// finished, takes a drawn latency (longer inside a stall window), and takes effect at a
// random instant inside its service time. An I/O still running at the deadline is reported
// 'timeout' while it keeps running; later requests fail fast with 'stalled' until it ends,
// and a late write still lands when it ends (as a real stuck write does).
// A failed write may or may not have been stored, or may leave the sector torn (reads as
// 'crc-mismatch'), as on a real device; a write reported done is always stored.
// Each host has two vote copies per disk (A/B, docs/disk-layout.md) handled by the same
// rule as the daemon's VotingDisk (src/disk/vote-copies.ts): a write goes to the copy not
// holding the last durable record, so a tear only damages the copy being written.
import { chooseCopy, voteCopyToWrite } from '../../src/disk/vote-copies.js';
import type {
  DiskArea,
  DiskError,
  HeartbeatPayload,
  HostId,
  SlotRead,
  SlotRecord,
  VotePayload,
} from '../../src/core/types.js';
import type { SimHost } from './host.js';
import type { World } from './world.js';

interface Window {
  hosts: Set<HostId> | null; // null = every host
  fromMs: number;
  untilMs: number;
}

interface Channel {
  freeAtMs: number;
  lateFromMs: number;
  lateUntilMs: number;
}

export class VotingDisk {
  hb: ReadonlyArray<SlotRead<HeartbeatPayload>>;
  /** What a reader gets per host: the copy chooseCopy picks. */
  votes: ReadonlyArray<SlotRead<VotePayload>>;
  /** Both vote copies per host: voteCopies[host - 1] = [A, B]. */
  private readonly voteCopies: Array<Array<SlotRead<VotePayload>>>;
  /** Per `${host}:${incarnation}` (one daemon process): the copy its next vote write goes to. */
  private readonly voteTargets = new Map<string, number>();
  stalls: Window[] = [];
  errors: Window[] = [];
  private readonly channels = new Map<HostId, Channel>();

  constructor(
    readonly index: number,
    hostCount: number,
  ) {
    const empty = (i: number) => Object.freeze({ hostId: i + 1, verdict: 'empty' as const });
    this.hb = Object.freeze(Array.from({ length: hostCount }, (_, i) => empty(i)));
    this.votes = Object.freeze(Array.from({ length: hostCount }, (_, i) => empty(i)));
    this.voteCopies = Array.from({ length: hostCount }, (_, i) => [empty(i), empty(i)]);
  }

  /** The vote copy host `hostId`'s process `inc` writes next (learned from the disk at its first write). */
  voteTarget(hostId: HostId, inc: number): number {
    const key = `${hostId}:${inc}`;
    let copy = this.voteTargets.get(key);
    if (copy === undefined) {
      copy = voteCopyToWrite(this.voteCopies[hostId - 1]!);
      this.voteTargets.set(key, copy);
    }
    return copy;
  }

  /** A vote write was acknowledged: the next one goes to the other copy. */
  voteAcknowledged(hostId: HostId, inc: number, copy: number): void {
    this.voteTargets.set(`${hostId}:${inc}`, 1 - copy);
  }

  channel(hostId: HostId): Channel {
    let ch = this.channels.get(hostId);
    if (!ch) {
      ch = { freeAtMs: 0, lateFromMs: Infinity, lateUntilMs: 0 };
      this.channels.set(hostId, ch);
    }
    return ch;
  }

  stallEnd(hostId: HostId, atMs: number): number {
    let end = atMs;
    for (const s of this.stalls) {
      if ((s.hosts === null || s.hosts.has(hostId)) && s.fromMs <= end && end < s.untilMs) end = s.untilMs;
    }
    return end;
  }

  failing(hostId: HostId, atMs: number): boolean {
    return this.errors.some((e) => (e.hosts === null || e.hosts.has(hostId)) && e.fromMs <= atMs && atMs < e.untilMs);
  }

  /** A device-wide error window: the device may leave a sector half written. */
  deviceFailing(atMs: number): boolean {
    return this.errors.some((e) => e.hosts === null && e.fromMs <= atMs && atMs < e.untilMs);
  }

  /** Stores a sector; `copy` (0 = A, 1 = B) only matters in the vote area. */
  store<P>(area: DiskArea, slot: SlotRead<P>, copy = 0): void {
    const i = slot.hostId - 1;
    if (area === 'heartbeat') {
      const next = this.hb.slice();
      next[i] = slot as SlotRead<HeartbeatPayload>;
      this.hb = Object.freeze(next);
    } else {
      const copies = this.voteCopies[i]!;
      copies[copy] = slot as SlotRead<VotePayload>;
      const next = this.votes.slice();
      next[i] = chooseCopy(copies);
      this.votes = Object.freeze(next);
    }
  }

  healAt(nowMs: number): void {
    for (const w of [...this.stalls, ...this.errors]) w.untilMs = Math.min(w.untilMs, nowMs);
  }
}

/** Deep copy and freeze: the disk holds bytes, not the engine's objects. */
function snapshotRecord<P>(record: SlotRecord<P>): SlotRecord<P> {
  return deepFreeze(JSON.parse(JSON.stringify(record)) as SlotRecord<P>);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

interface Planned {
  startMs: number;
  doneMs: number;
  late: boolean;
  failing: boolean;
  /** The device itself is failing (not one host's path): a failed write may be torn. */
  mayTear: boolean;
}

/** Reserve the channel for one request; returns undefined when it must fail fast. */
function plan(w: World, h: SimHost, disk: VotingDisk): Planned | undefined {
  const ch = disk.channel(h.id);
  if (ch.lateFromMs <= w.now && w.now < ch.lateUntilMs) return undefined;
  const k = w.knobs.disk;
  const latency = w.rng.disk.latency(k.latencyTypicalMs, k.latencyTailMs, k.latencyTailOdds);
  const queued = Math.max(w.now, ch.freeAtMs);
  const startMs = disk.stallEnd(h.id, queued);
  const doneMs = startMs + latency;
  ch.freeAtMs = doneMs;
  const late = doneMs - w.now > w.timeouts.ioDeadlineMs;
  if (late) {
    ch.lateFromMs = w.now + w.timeouts.ioDeadlineMs;
    ch.lateUntilMs = doneMs;
  }
  return { startMs, doneMs, late, failing: disk.failing(h.id, startMs), mayTear: disk.deviceFailing(startMs) };
}

function failFast(w: World, h: SimHost, disk: number, requestId: number): void {
  w.deliver(h.id, h.incarnation, 0.02, 'disk-stalled', (nowMs) => ({
    kind: 'disk-failed',
    nowMs,
    requestId,
    disk,
    error: 'stalled',
  }));
}

function reportTimeout(w: World, h: SimHost, disk: number, requestId: number): void {
  w.deliver(h.id, h.incarnation, w.timeouts.ioDeadlineMs, 'disk-timeout', (nowMs) => ({
    kind: 'disk-failed',
    nowMs,
    requestId,
    disk,
    error: 'timeout',
  }));
}

function reportFailure(w: World, h: SimHost, inc: number, disk: number, requestId: number, error: DiskError): void {
  w.deliver(h.id, inc, 0, 'disk-failed', (nowMs) => ({ kind: 'disk-failed', nowMs, requestId, disk, error }));
}

export function submitRead(w: World, h: SimHost, diskIndex: number, requestId: number): void {
  const disk = w.disks[diskIndex];
  if (!disk) return w.check.violation('bad-disk-index', h.id, `read of disk ${diskIndex}`);
  const p = plan(w, h, disk);
  if (!p) return failFast(w, h, diskIndex, requestId);
  if (p.late) reportTimeout(w, h, diskIndex, requestId);
  const inc = h.incarnation;
  const hbAt = p.startMs + w.rng.disk.float() * (p.doneMs - p.startMs);
  const votesAt = hbAt + w.rng.disk.float() * (p.doneMs - hbAt);
  let heartbeats = disk.hb;
  let votes = disk.votes;
  w.at(hbAt, { code: 'disk-snap-hb', host: 0, gate: 'none', inc: -1, run: () => void (heartbeats = disk.hb) });
  w.at(votesAt, { code: 'disk-snap-votes', host: 0, gate: 'none', inc: -1, run: () => void (votes = disk.votes) });
  w.at(p.doneMs, {
    code: 'disk-read-end',
    host: 0,
    gate: 'none',
    inc: -1,
    run: () => {
      if (p.late) return;
      if (p.failing) return reportFailure(w, h, inc, diskIndex, requestId, 'io');
      w.deliver(h.id, inc, 0, 'disk-read-done', (nowMs) => ({
        kind: 'disk-read-done',
        nowMs,
        requestId,
        disk: diskIndex,
        heartbeats: heartbeats as SlotRead<HeartbeatPayload>[],
        votes: votes as SlotRead<VotePayload>[],
      }));
    },
  });
}

export function submitWrite<P>(
  w: World,
  h: SimHost,
  diskIndex: number,
  requestId: number,
  area: DiskArea,
  record: SlotRecord<P>,
): void {
  const disk = w.disks[diskIndex];
  if (!disk) return w.check.violation('bad-disk-index', h.id, `write of disk ${diskIndex}`);
  if (record.hostId !== h.id) w.check.violation('foreign-slot-write', h.id, `record names host ${record.hostId}`);
  const bytes = snapshotRecord(record);
  const p = plan(w, h, disk);
  if (!p) return failFast(w, h, diskIndex, requestId);
  if (p.late) reportTimeout(w, h, diskIndex, requestId);
  const inc = h.incarnation;
  const effectAt = p.startMs + w.rng.disk.float() * (p.doneMs - p.startMs);
  let result: DiskError | 'ok' = 'ok';
  w.at(effectAt, {
    code: 'disk-write-effect',
    host: 0,
    gate: 'none',
    inc: -1,
    run: () => {
      result = writeEffect(w, h, inc, disk, area, bytes, p);
    },
  });
  w.at(p.doneMs, {
    code: 'disk-write-end',
    host: 0,
    gate: 'none',
    inc: -1,
    run: () => {
      if (p.late) return;
      if (result !== 'ok') return reportFailure(w, h, inc, diskIndex, requestId, result);
      w.deliver(h.id, inc, 0, 'disk-write-done', (nowMs) => ({
        kind: 'disk-write-done',
        nowMs,
        requestId,
        disk: diskIndex,
        area,
      }));
    },
  });
}

function writeEffect<P>(
  w: World,
  h: SimHost,
  inc: number,
  disk: VotingDisk,
  area: DiskArea,
  bytes: SlotRecord<P>,
  p: Planned,
): DiskError | 'ok' {
  const torn = Object.freeze({ hostId: h.id, verdict: 'crc-mismatch' as const });
  if (w.storage.refuses(h.id, disk.index)) return 'reservation-conflict'; // not registered under a reservation: never stored
  const copy = area === 'vote' ? disk.voteTarget(h.id, inc) : 0;
  const where = area === 'vote' ? `vote slot ${h.id} copy ${'AB'[copy]}` : `heartbeat slot ${h.id}`;
  const powerLost = h.powerLossCrash && (h.incarnation !== inc || !h.alive) && h.crashedAtMs >= p.startMs;
  if (p.failing || powerLost) {
    // A lost path (one host's errors) delivers a whole command or none: SCSI writes of one
    // logical block are atomic. Only a failing device or a power loss may tear a sector.
    const tornOdds = p.mayTear || powerLost ? w.knobs.disk.tornOdds : 0;
    const r = w.rng.disk.float();
    if (r < tornOdds) {
      disk.store(area, torn, copy);
      w.trace.note(w.now, h.id, 'disk-torn', () => `disk ${disk.index} ${where}`);
    } else if (r < (1 + tornOdds) / 2) disk.store(area, { hostId: h.id, verdict: 'ok', record: bytes }, copy);
    return 'io';
  }
  // Reported done only if it ends before the deadline: a late write lands, but its writer
  // saw a timeout and keeps targeting the same copy (as VotingDisk.writeVote does).
  if (area === 'vote' && !p.late) disk.voteAcknowledged(h.id, inc, copy);
  const lying = w.options.lyingDiskOdds ?? 0;
  if (lying > 0 && w.rng.disk.chance(lying)) {
    w.trace.note(w.now, h.id, 'disk-lied', () => `disk ${disk.index} ${where}`);
    return 'ok'; // reported durable, never stored: outside the fault model on purpose
  }
  disk.store(area, { hostId: h.id, verdict: 'ok', record: bytes }, copy);
  return 'ok';
}
