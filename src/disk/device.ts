// Sector I/O on a voting disk (block device, regular file or iscsi:// LUN) through the
// native addon: O_DIRECT | O_DSYNC, aligned buffers, io_uring submitted from the JS thread or
// one dedicated I/O thread per device, a deadline on every I/O (docs/native-io.md).
//
// Arguments are checked here before native code runs (better-sqlite3 style): a bad
// argument, a misaligned range, a write on a read-only device or any call after close()
// throws a YcsError synchronously; everything the disk says comes back as a rejected
// promise carrying a YcsError (E_IO, E_DISK_TIMEOUT, E_DISK_STALLED, ...).
import { YcsError, type YcsErrorCode } from '../errors.js';
import { loadNative } from '../native.js';

export type DeviceKind = 'block' | 'file' | 'iscsi';

export interface DeviceInfo {
  path: string;
  kind: DeviceKind;
  logicalSectorSize: number;
  physicalSectorSize: number;
  memoryAlignment: number;
  sizeBytes: number;
  identity: string;
  readOnly: boolean;
  /**
   * How sector reads and writes are issued: 'io_uring' (submitted from the JS thread
   * without blocking it, one wake-up on completion) or 'thread' (the device's I/O thread:
   * iscsi:// devices, ioEngine 'thread', or a kernel that refuses io_uring).
   */
  ioEngine: IoEngine;
}

export type IoEngine = 'io_uring' | 'thread';

export type DeviceHealth = 'ok' | 'stalled' | 'closed';

export interface OpenOptions {
  readOnly?: boolean;
  /** Deadline of every I/O on this device unless a call overrides it. */
  ioTimeoutMs?: number;
  iscsiInitiatorIqn?: string;
  /** Pinned 48-bit ISID (libiscsi otherwise picks a random one per connection). */
  iscsiIsid?: bigint;
  /** 'auto' (default): io_uring where the kernel allows it; 'thread': always the I/O thread. */
  ioEngine?: 'auto' | 'thread';
  /** 'stalled' as soon as an I/O passes its deadline, 'ok' when it returns, 'closed' once. */
  onHealthChange?: (health: DeviceHealth, device: string) => void;
}

export interface IoCallOptions {
  timeoutMs?: number;
}

export type ScsiDirection = 'none' | 'in' | 'out';

export interface ScsiReply {
  /** Non-zero: the command never reached the device (errno of SG_IO or the transport). */
  osErrno: number;
  /** SAM status: 0 GOOD, 0x02 CHECK CONDITION, 0x18 RESERVATION CONFLICT. */
  status: number;
  hostStatus: number;
  sense: Buffer;
  data: Buffer;
}

export type BlockPrOp = 'register' | 'reserve' | 'release' | 'preempt' | 'preempt-abort' | 'clear';

/** Linux block-layer PR request (include/uapi/linux/pr.h); block-layer type numbering. */
export interface BlockPrRequest {
  op: BlockPrOp;
  oldKey?: bigint;
  newKey?: bigint;
  type?: number;
  flags?: number;
}

/** Where the last settled I/O's time went (diagnostic, nanoseconds). */
export interface IoTimings {
  /** Submission to the start of the syscall on the I/O thread (the hand-off there). */
  queuedNs: number;
  /** The syscall on the I/O thread. */
  syscallNs: number;
  /** End of the syscall to the JS thread settling the promise (the hand-off back). */
  deliveryNs: number;
}

export const DEFAULT_IO_TIMEOUT_MS = 5000;
const MAX_TIMEOUT_MS = 3_600_000;

interface NativeDevice {
  readonly health: DeviceHealth;
  readonly lastIoNs: number;
  readonly lastIoTimings: IoTimings;
  readonly info: DeviceInfo | null;
  read(offset: number, length: number, timeoutMs?: number): Promise<Buffer>;
  readInto(offset: number, target: Uint8Array, timeoutMs?: number): Promise<void>;
  write(offset: number, data: Uint8Array, timeoutMs?: number): Promise<void>;
  scsi(cdb: Uint8Array, direction: ScsiDirection, data: Uint8Array | number, timeoutMs: number): Promise<ScsiReply>;
  blockPr(request: BlockPrRequest): Promise<number>;
  close(timeoutMs?: number): Promise<boolean>;
}

interface NativeOpenOptions {
  readOnly: boolean;
  ioTimeoutMs: number;
  iscsiInitiatorIqn?: string;
  iscsiIsid?: bigint;
  onStateChange: (state: 'ok' | 'stalled', stuckMs: number) => void;
}

interface NativeModule {
  openDevice(path: string, options: NativeOpenOptions): Promise<NativeDevice>;
}

const KNOWN_CODES = new Set<string>([
  'E_INVALID_ARGUMENT', 'E_NOT_FOUND', 'E_ACCESS', 'E_READ_ONLY', 'E_MISALIGNED', 'E_IO', 'E_NO_SPACE',
  'E_DISK_TIMEOUT', 'E_DISK_STALLED', 'E_CLOSED', 'E_RESERVATION_CONFLICT', 'E_ISCSI', 'E_SCSI', 'E_INTERNAL',
]);

interface NativeErrorShape {
  code?: unknown;
  message?: unknown;
  errno?: unknown;
  device?: unknown;
  op?: unknown;
  offset?: unknown;
}

/** Turns what the addon throws or rejects with into a YcsError. */
export function fromNativeError(err: unknown): YcsError {
  if (err instanceof YcsError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as NativeErrorShape;
  const code = typeof e.code === 'string' && KNOWN_CODES.has(e.code) ? (e.code as YcsErrorCode) : 'E_INTERNAL';
  const message = typeof e.message === 'string' ? e.message : String(err);
  return new YcsError(code, message, {
    ...(typeof e.errno === 'string' ? { errno: e.errno } : {}),
    ...(typeof e.device === 'string' ? { device: e.device } : {}),
    ...(typeof e.op === 'string' ? { op: e.op } : {}),
    ...(typeof e.offset === 'number' ? { offset: e.offset } : {}),
  });
}

function invalid(message: string, device?: string, op?: string): YcsError {
  return new YcsError('E_INVALID_ARGUMENT', message, { ...(device ? { device } : {}), ...(op ? { op } : {}) });
}

function checkInteger(value: unknown, name: string, device: string, op: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${name} must be a non-negative safe integer, got ${String(value)}`, device, op);
  }
}

function checkTimeout(value: number | undefined, device: string, op: string): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_TIMEOUT_MS) {
    throw invalid(`timeoutMs must be an integer in 1..${MAX_TIMEOUT_MS}, got ${String(value)}`, device, op);
  }
}

/** Throws unless [offset, offset+length) is a non-empty run of whole sectors inside the device. */
export function checkSectorRange(info: DeviceInfo, op: 'read' | 'write', offset: number, length: number): void {
  checkInteger(offset, 'offset', info.path, op);
  checkInteger(length, 'length', info.path, op);
  const sector = info.logicalSectorSize;
  const what = (): string => `${op} of ${length} bytes at offset ${offset} on ${info.path}`;
  if (length === 0 || offset % sector !== 0 || length % sector !== 0) {
    throw new YcsError('E_MISALIGNED', `${what()} is not a whole number of ${sector}-byte logical sectors`, {
      errno: 'EINVAL', device: info.path, op, offset,
    });
  }
  if (offset + length > info.sizeBytes) {
    throw new YcsError('E_INVALID_ARGUMENT', `${what()} extends past the end of the device (${info.sizeBytes} bytes)`, {
      device: info.path, op, offset,
    });
  }
}

function checkOpenOptions(path: unknown, options: OpenOptions): asserts path is string {
  if (typeof path !== 'string' || path.length === 0) throw invalid('device path must be a non-empty string');
  if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean') {
    throw invalid('readOnly must be a boolean', path, 'open');
  }
  checkTimeout(options.ioTimeoutMs, path, 'open');
  if (options.ioEngine !== undefined && options.ioEngine !== 'auto' && options.ioEngine !== 'thread') {
    throw invalid(`ioEngine must be 'auto' or 'thread', not ${JSON.stringify(options.ioEngine)}`, path, 'open');
  }
  if (options.iscsiIsid !== undefined && (typeof options.iscsiIsid !== 'bigint' || options.iscsiIsid < 0n || options.iscsiIsid >= 1n << 48n)) {
    throw invalid('iscsiIsid must be a 48-bit bigint', path, 'open');
  }
  if (options.onHealthChange !== undefined && typeof options.onHealthChange !== 'function') {
    throw invalid('onHealthChange must be a function', path, 'open');
  }
}

export class SectorDevice {
  readonly info: DeviceInfo;
  readonly #native: NativeDevice;
  readonly #onHealthChange: ((health: DeviceHealth, device: string) => void) | undefined;
  #closing: Promise<void> | undefined;

  private constructor(native: NativeDevice, info: DeviceInfo, onHealthChange: OpenOptions['onHealthChange']) {
    this.#native = native;
    this.info = Object.freeze({ ...info });
    this.#onHealthChange = onHealthChange;
  }

  /**
   * Opens and probes `path` on the device's own I/O thread. Rejects with E_NOT_FOUND,
   * E_ACCESS, E_READ_ONLY, ... or E_DISK_TIMEOUT when the open itself hangs.
   */
  static async open(path: string, options: OpenOptions = {}): Promise<SectorDevice> {
    checkOpenOptions(path, options);
    const native = loadNative<NativeModule>();
    let device: SectorDevice | undefined;
    const onStateChange = (state: 'ok' | 'stalled'): void => {
      if (device !== undefined) device.#report(state);
    };
    let handle: NativeDevice;
    try {
      handle = await native.openDevice(path, {
        readOnly: options.readOnly ?? false,
        ioTimeoutMs: options.ioTimeoutMs ?? DEFAULT_IO_TIMEOUT_MS,
        ...(options.iscsiInitiatorIqn !== undefined ? { iscsiInitiatorIqn: options.iscsiInitiatorIqn } : {}),
        ...(options.iscsiIsid !== undefined ? { iscsiIsid: options.iscsiIsid } : {}),
        ...(options.ioEngine !== undefined ? { ioEngine: options.ioEngine } : {}),
        onStateChange,
      });
    } catch (err) {
      throw fromNativeError(err);
    }
    const info = handle.info;
    if (info === null) throw new YcsError('E_INTERNAL', `${path} opened without geometry`, { device: path, op: 'open' });
    device = new SectorDevice(handle, info, options.onHealthChange);
    return device;
  }

  get health(): DeviceHealth {
    return this.#closing ? 'closed' : this.#native.health;
  }

  /**
   * Diagnostic: nanoseconds the most recently completed I/O spent in the syscall on the
   * I/O thread (the rest of a call's latency is the hand-off to and from that thread).
   */
  get lastIoNs(): number {
    return this.#native.lastIoNs;
  }

  /** Diagnostic: the hand-offs and the syscall of the last I/O whose promise settled. */
  get lastIoTimings(): IoTimings {
    return this.#native.lastIoTimings;
  }

  /** Reads whole sectors into a fresh Buffer. */
  read(offset: number, length: number, opts: IoCallOptions = {}): Promise<Buffer> {
    this.#checkOpen('read', offset);
    checkSectorRange(this.info, 'read', offset, length);
    checkTimeout(opts.timeoutMs, this.info.path, 'read');
    return this.#call(() => this.#native.read(offset, length, opts.timeoutMs));
  }

  /**
   * Reads whole sectors into `target` (all of it), for a caller that reuses one buffer
   * instead of allocating a fresh one per read. `target` is written only when the read
   * succeeds: a read that times out never touches it, even when it completes later.
   */
  readInto(offset: number, target: Uint8Array, opts: IoCallOptions = {}): Promise<void> {
    this.#checkOpen('read', offset);
    if (!(target instanceof Uint8Array)) throw invalid('target must be a Uint8Array', this.info.path, 'read');
    checkSectorRange(this.info, 'read', offset, target.byteLength);
    checkTimeout(opts.timeoutMs, this.info.path, 'read');
    return this.#call(() => this.#native.readInto(offset, target, opts.timeoutMs));
  }

  /** Writes whole sectors; durable (O_DSYNC) when the promise resolves. */
  write(offset: number, data: Uint8Array, opts: IoCallOptions = {}): Promise<void> {
    this.#checkOpen('write', offset);
    if (!(data instanceof Uint8Array)) throw invalid('data must be a Uint8Array', this.info.path, 'write');
    if (this.info.readOnly) {
      throw new YcsError('E_READ_ONLY', `write of ${data.byteLength} bytes at offset ${offset} on ${this.info.path} refused: opened read-only`, {
        errno: 'EROFS', device: this.info.path, op: 'write', offset,
      });
    }
    checkSectorRange(this.info, 'write', offset, data.byteLength);
    checkTimeout(opts.timeoutMs, this.info.path, 'write');
    return this.#call(() => this.#native.write(offset, data, opts.timeoutMs));
  }

  /**
   * Sends one SCSI command (SG_IO, or libiscsi for iscsi://). `data` is the data-out
   * bytes for 'out' and the allocation length for 'in'. The device's I/O deadline is
   * at least `timeoutMs` + 1 s so the target's own timeout fires first.
   */
  scsi(cdb: Uint8Array, direction: ScsiDirection, data: Uint8Array | number, timeoutMs: number): Promise<ScsiReply> {
    this.#checkOpen('scsi');
    const path = this.info.path;
    if (!(cdb instanceof Uint8Array) || cdb.byteLength < 6 || cdb.byteLength > 16) throw invalid('cdb must be a Uint8Array of 6..16 bytes', path, 'scsi');
    if (direction !== 'none' && direction !== 'in' && direction !== 'out') throw invalid(`bad SCSI direction ${String(direction)}`, path, 'scsi');
    if (direction === 'out' && !(data instanceof Uint8Array)) throw invalid('data-out must be a Uint8Array', path, 'scsi');
    if (direction === 'in') checkInteger(data, 'allocation length', path, 'scsi');
    checkTimeout(timeoutMs, path, 'scsi');
    return this.#call(() => this.#native.scsi(cdb, direction, direction === 'none' ? 0 : data, timeoutMs));
  }

  /** Linux IOC_PR_* ioctl: resolves 0, a negative errno, or a positive pr_status (0x18 = conflict). */
  blockPr(request: BlockPrRequest): Promise<number> {
    this.#checkOpen('block-pr');
    return this.#call(() => this.#native.blockPr(request));
  }

  /**
   * Idempotent. Lets queued I/O finish, then closes the descriptor. On a stalled device
   * it resolves at once: the I/O thread is left to close the descriptor and exit when
   * the stuck syscall returns (docs/native-io.md).
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = this.#native.close().then(
        () => undefined,
        (err: unknown) => { throw fromNativeError(err); },
      );
      this.#report('closed');
    }
    return this.#closing;
  }

  #checkOpen(op: string, offset?: number): void {
    if (this.#closing !== undefined) {
      throw new YcsError('E_CLOSED', `${op} on ${this.info.path} refused: the device is closed`, {
        device: this.info.path, op, ...(offset !== undefined && Number.isSafeInteger(offset) ? { offset } : {}),
      });
    }
  }

  /** Runs a native call, turning what it throws synchronously into a YcsError. */
  #sync<T>(call: () => T): T {
    try {
      return call();
    } catch (err) {
      throw fromNativeError(err);
    }
  }

  #call<T>(start: () => Promise<T>): Promise<T> {
    return this.#sync(start).catch((err: unknown) => { throw fromNativeError(err); });
  }

  #report(health: DeviceHealth): void {
    if (health !== 'closed' && this.#closing !== undefined) return;
    try {
      this.#onHealthChange?.(health, this.info.path);
    } catch {
      // A listener's bug must not break the device; the state itself is in `health`.
    }
  }
}
