// Disk heartbeats. The writer puts this host's heartbeat sector on the disk every
// intervalMs; the reader reads every host's sector in one I/O and notes, with THIS host's
// monotonic clock, when each host's (incarnation, sequence) last changed. Liveness is
// "changed within keepAliveMs": no clock is ever compared across hosts (invariant 2).
// Policy (who is master, whom to evict) stays in the engine.
import { performance } from 'node:perf_hooks';
import type { HeartbeatPayload, SlotRead, SlotRecord, SlotVerdict } from '../core/types.js';
import { YcsError, toYcsError } from '../errors.js';
import type { VotingDisk } from './voting-disk.js';

export interface HeartbeatWriterOptions {
  disk: VotingDisk;
  hostId: number;
  /** DISK_HB_INTERVAL: the cadence of writes, measured start to start. */
  intervalMs: number;
  /** Deadline of each write; default intervalMs. */
  writeTimeoutMs?: number;
  /** The payload of the next write, asked for just before each write. */
  payload: () => HeartbeatPayload;
  /** The incarnation is never lower than this (e.g. one the daemon persisted elsewhere). */
  incarnationFloor?: number;
  onWritten?: (record: SlotRecord<HeartbeatPayload>, latencyMs: number) => void;
  /** A write failed or missed its deadline; the writer keeps going at the next interval. */
  onError?: (error: YcsError, sequence: number) => void;
  /** Monotonic clock in ms; default performance.now. */
  now?: () => number;
}

/**
 * Writes one heartbeat sector per interval, never two at once: a write that runs late
 * delays the next one (which then starts at once), it never queues more behind it.
 */
export class HeartbeatWriter {
  private incarnationValue = 0;
  private sequenceValue = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private running = false;
  private readonly now: () => number;

  constructor(private readonly options: HeartbeatWriterOptions) {
    if (!(options.intervalMs > 0)) throw new YcsError('E_INVALID_ARGUMENT', `heartbeat interval must be positive, got ${options.intervalMs}`);
    this.now = options.now ?? (() => performance.now());
  }

  get incarnation(): number {
    return this.incarnationValue;
  }

  /** The sequence of the last write attempted (0 before the first). */
  get sequence(): number {
    return this.sequenceValue;
  }

  /**
   * Chooses the incarnation (one more than any this host left in its own slots, at least
   * the floor) and writes the first heartbeat. Throws when the first write fails: a host
   * that cannot write its heartbeat must not join.
   */
  async start(): Promise<number> {
    if (this.running) throw new YcsError('E_INTERNAL', 'heartbeat writer already started');
    const own = await this.options.disk.readOwnSlots(this.options.hostId);
    const previous = Math.max(own.heartbeat.record?.incarnation ?? 0, own.vote.record?.incarnation ?? 0);
    this.incarnationValue = Math.max(previous + 1, this.options.incarnationFloor ?? 0);
    this.sequenceValue = 0;
    this.running = true;
    const first = this.nextRecord();
    try {
      await this.writeRecord(first);
    } catch (err) {
      this.running = false;
      throw err;
    }
    this.schedule(this.options.intervalMs);
    return this.incarnationValue;
  }

  /** Stops the timer and waits for a write in flight; the slot keeps its last record. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private nextRecord(): SlotRecord<HeartbeatPayload> {
    // The sequence grows on every attempt, failed ones too: a write that timed out may
    // still land later, and no two different payloads may share (incarnation, sequence).
    this.sequenceValue += 1;
    return { hostId: this.options.hostId, incarnation: this.incarnationValue, sequence: this.sequenceValue, payload: this.options.payload() };
  }

  private async writeRecord(record: SlotRecord<HeartbeatPayload>): Promise<void> {
    const started = this.now();
    await this.options.disk.writeHeartbeat(record, { timeoutMs: this.options.writeTimeoutMs ?? this.options.intervalMs });
    this.options.onWritten?.(record, this.now() - started);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => this.tick(), Math.max(0, delayMs));
  }

  private tick(): void {
    this.timer = undefined;
    if (!this.running) return;
    const started = this.now();
    let record: SlotRecord<HeartbeatPayload>;
    try {
      record = this.nextRecord();
    } catch (err) {
      this.options.onError?.(toYcsError(err), this.sequenceValue);
      this.schedule(this.options.intervalMs);
      return;
    }
    this.inFlight = this.writeRecord(record)
      .catch((err: unknown) => this.options.onError?.(toYcsError(err), record.sequence))
      .finally(() => {
        this.inFlight = undefined;
        this.schedule(started + this.options.intervalMs - this.now());
      });
  }
}

/** One host's heartbeat as seen by this host. */
export interface HostHeartbeat {
  hostId: number;
  verdict: SlotVerdict;
  /** The last 'ok' record seen (possibly from an earlier read, when the slot now is not ok). */
  record?: SlotRecord<HeartbeatPayload>;
  /** Local monotonic ms at which (incarnation, sequence) last changed; undefined if never seen ok. */
  changedAtMs?: number;
}

/**
 * Tracks every host's heartbeat across reads. The first sight of a record counts as a
 * change: after this host starts, a peer is presumed alive for one keep-alive period
 * (as sanlock does), because nothing tells when that record was written.
 */
export class HeartbeatReader {
  private readonly hosts = new Map<number, HostHeartbeat>();
  private readonly now: () => number;

  constructor(
    private readonly disk: VotingDisk,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Reads the whole heartbeat area in one I/O and folds it in; returns every host. */
  async read(io: { timeoutMs?: number } = {}): Promise<HostHeartbeat[]> {
    const reads = await this.disk.readHeartbeats(io);
    return this.observe(reads, this.now());
  }

  /** Folds in one decoded area read at local time nowMs (also usable without I/O). */
  observe(reads: ReadonlyArray<SlotRead<HeartbeatPayload>>, nowMs: number): HostHeartbeat[] {
    for (const slot of reads) {
      const known = this.hosts.get(slot.hostId);
      const next: HostHeartbeat = { ...known, hostId: slot.hostId, verdict: slot.verdict };
      if (slot.verdict === 'ok' && slot.record) {
        const changed = !known?.record || known.record.incarnation !== slot.record.incarnation || known.record.sequence !== slot.record.sequence;
        next.record = slot.record;
        if (changed) next.changedAtMs = nowMs;
      }
      this.hosts.set(slot.hostId, next);
    }
    return this.snapshot();
  }

  snapshot(): HostHeartbeat[] {
    return [...this.hosts.values()].sort((a, b) => a.hostId - b.hostId);
  }

  get(hostId: number): HostHeartbeat | undefined {
    return this.hosts.get(hostId);
  }

  /** True when hostId's (incarnation, sequence) changed within keepAliveMs before nowMs. */
  isAlive(hostId: number, nowMs: number, keepAliveMs: number): boolean {
    const changedAt = this.hosts.get(hostId)?.changedAtMs;
    return changedAt !== undefined && nowMs - changedAt <= keepAliveMs;
  }
}
