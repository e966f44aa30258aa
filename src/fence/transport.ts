// Persistent reservations over one device, behind one interface (PrTransport), with two
// implementations:
//   - ScsiPrTransport: raw PERSISTENT RESERVE IN/OUT CDBs (src/fence/cdb.ts) sent through
//     the device's SCSI passthrough: SG_IO for /dev/sd*, /dev/sg*, /dev/mapper/*, and
//     libiscsi for iscsi:// LUNs (the same bytes either way);
//   - BlockPrTransport: the kernel's IOC_PR_* ioctls (NVMe and other block devices), which
//     use the block layer's own type numbering. Reads use IOC_PR_READ_KEYS /
//     IOC_PR_READ_RESERVATION (Linux 6.19+) and, on kernels without them, PERSISTENT
//     RESERVE IN through SG_IO on the SCSI generic node of the same device (sysfs).
// The transport must share the SectorDevice that does the host's sector I/O: a
// registration belongs to an I_T nexus, and a second iSCSI session with the same
// initiator name and ISID would make the target drop the first one.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { isYcsError, YcsError, type YcsErrorCode } from '../errors.js';
import { loadNative } from '../native.js';
import type { BlockPrRequest, ScsiDirection, ScsiReply } from '../disk/device.js';
import {
  type Capabilities,
  decodeReadKeys,
  decodeReadReservation,
  decodeReportCapabilities,
  prInCdb,
  type PrInActionName,
  prOutCommand,
  type PrOutActionName,
  type ReadKeysResult,
  type ReadReservationResult,
} from './cdb.js';
import { decodeSense, describeSense, isUnitAttention, ScsiStatus, SenseKey, statusName } from './sense.js';

/** What a transport needs from a device; SectorDevice (src/disk/device.ts) provides it. */
export interface PrDevice {
  readonly info: { readonly path: string };
  scsi(cdb: Uint8Array, direction: ScsiDirection, data: Uint8Array | number, timeoutMs: number): Promise<ScsiReply>;
  blockPr(request: BlockPrRequest): Promise<number>;
}

export type PrTransportKind = 'scsi' | 'block-pr';

/**
 * How a transport reads keys and the reservation: PR IN on its own passthrough ('pr-in'),
 * the kernel's IOC_PR_READ_KEYS / IOC_PR_READ_RESERVATION ('ioctl'), PR IN through the
 * SCSI generic node of the same device ('sg'), or not at all ('none').
 */
export type KeyReadSupport = 'pr-in' | 'ioctl' | 'sg' | 'none';

export interface PrTransport {
  readonly kind: PrTransportKind;
  readonly device: string;
  /**
   * Whether readKeys/readReservation work on this device, found by one read (cached once
   * it succeeded or the device said it has no PR reads). A fence may only report
   * `verified` where this is not 'none'. Never rejects: a read that failed otherwise
   * (EIO, ...) gives 'none' for this call and is tried again on the next.
   */
  keyReadSupport(): Promise<KeyReadSupport>;
  readKeys(): Promise<ReadKeysResult>;
  readReservation(): Promise<ReadReservationResult>;
  reportCapabilities(): Promise<Capabilities>;
  /** REGISTER: `currentKey` is 0 for an unregistered nexus; `newKey` 0 unregisters. */
  register(currentKey: bigint, newKey: bigint): Promise<void>;
  registerAndIgnore(newKey: bigint): Promise<void>;
  reserve(key: bigint, type: number): Promise<void>;
  release(key: bigint, type: number): Promise<void>;
  clear(key: bigint): Promise<void>;
  preempt(key: bigint, victimKey: bigint, type: number): Promise<void>;
  preemptAndAbort(key: bigint, victimKey: bigint, type: number): Promise<void>;
}

export const UNIT_ATTENTION_RETRIES = 3;
export const DEFAULT_PR_TIMEOUT_MS = 5000;
const PR_IN_INITIAL_ALLOCATION = 4096;

const SERVICE_ACTION_NAMES: Record<PrOutActionName | PrInActionName, string> = {
  register: 'REGISTER',
  reserve: 'RESERVE',
  release: 'RELEASE',
  clear: 'CLEAR',
  preempt: 'PREEMPT',
  preemptAndAbort: 'PREEMPT AND ABORT',
  registerAndIgnore: 'REGISTER AND IGNORE EXISTING KEY',
  readKeys: 'READ KEYS',
  readReservation: 'READ RESERVATION',
  reportCapabilities: 'REPORT CAPABILITIES',
  readFullStatus: 'READ FULL STATUS',
};

// Aliases share a number; name it the way the kernel headers and strerrorname_np do.
const PREFERRED_ERRNO_NAMES = new Set(['EOPNOTSUPP', 'EAGAIN', 'EDEADLK']);

export function errnoName(errno: number): string {
  const entries = Object.entries(osConstants.errno);
  const preferred = entries.find(([name, value]) => value === errno && PREFERRED_ERRNO_NAMES.has(name));
  if (preferred) return preferred[0];
  for (const [name, value] of entries) {
    if (value === errno) return name;
  }
  return `E${errno}`;
}

/** errno values that mean "this device has no PR interface": loop, files, ramdisks. */
const UNSUPPORTED_ERRNOS = new Set(['EINVAL', 'ENOTTY', 'EOPNOTSUPP', 'ENOTSUP', 'ENOSYS']);

export function unsupportedDevice(device: string, detail: string, op: string): YcsError {
  return new YcsError('E_PR_UNSUPPORTED', `device does not support persistent reservations: ${device} (${detail})`, {
    device, op,
  });
}

/** True for the error the iSCSI backend reports when it had to log in again (see docs/fencing.md). */
export function isSessionReset(err: unknown): boolean {
  return err instanceof YcsError && err.errno === 'ECONNRESET';
}

export class ScsiPrTransport implements PrTransport {
  readonly kind = 'scsi' as const;
  readonly device: string;

  constructor(
    private readonly dev: PrDevice,
    private readonly timeoutMs = DEFAULT_PR_TIMEOUT_MS,
  ) {
    this.device = dev.info.path;
  }

  keyReadSupport(): Promise<KeyReadSupport> {
    return Promise.resolve('pr-in');
  }

  async readKeys(): Promise<ReadKeysResult> {
    return decodeReadKeys(await this.prIn('readKeys'));
  }

  async readReservation(): Promise<ReadReservationResult> {
    return decodeReadReservation(await this.prIn('readReservation'));
  }

  async reportCapabilities(): Promise<Capabilities> {
    return decodeReportCapabilities(await this.prIn('reportCapabilities'));
  }

  register(currentKey: bigint, newKey: bigint): Promise<void> {
    return this.prOut('register', 0, currentKey, newKey);
  }

  registerAndIgnore(newKey: bigint): Promise<void> {
    return this.prOut('registerAndIgnore', 0, 0n, newKey);
  }

  reserve(key: bigint, type: number): Promise<void> {
    return this.prOut('reserve', type, key, 0n);
  }

  release(key: bigint, type: number): Promise<void> {
    return this.prOut('release', type, key, 0n);
  }

  clear(key: bigint): Promise<void> {
    return this.prOut('clear', 0, key, 0n);
  }

  preempt(key: bigint, victimKey: bigint, type: number): Promise<void> {
    return this.prOut('preempt', type, key, victimKey);
  }

  preemptAndAbort(key: bigint, victimKey: bigint, type: number): Promise<void> {
    return this.prOut('preemptAndAbort', type, key, victimKey);
  }

  /** PR IN with an allocation length grown once when the answer says it needs more. */
  private async prIn(action: PrInActionName): Promise<Buffer> {
    let allocation = PR_IN_INITIAL_ALLOCATION;
    for (;;) {
      const data = await this.send(action, prInCdb(action, allocation), 'in', allocation);
      const needed = data.length >= 8 && action !== 'reportCapabilities' ? 8 + data.readUInt32BE(4) : 0;
      if (needed <= allocation || allocation === 0xffff) return data;
      allocation = Math.min(needed, 0xffff);
    }
  }

  private async prOut(action: PrOutActionName, type: number, key: bigint, serviceActionKey: bigint): Promise<void> {
    const command = prOutCommand(action, type, { reservationKey: key, serviceActionKey });
    await this.send(action, command.cdb, 'out', command.parameters);
  }

  /** One command, UNIT ATTENTION retried a bounded number of times, every failure a YcsError. */
  private async send(
    action: PrOutActionName | PrInActionName,
    cdb: Uint8Array,
    direction: ScsiDirection,
    data: Uint8Array | number,
  ): Promise<Buffer> {
    const op = `${direction === 'in' ? 'pr-in' : 'pr-out'} ${SERVICE_ACTION_NAMES[action]}`;
    for (let attempt = 0; ; attempt++) {
      const reply = await this.dev.scsi(cdb, direction, data, this.timeoutMs);
      const sense = decodeSense(reply.sense);
      if (reply.osErrno === 0 && reply.hostStatus === 0 && isUnitAttention(reply.status, sense)) {
        if (attempt < UNIT_ATTENTION_RETRIES) continue;
      }
      const failure = this.failure(action, op, reply, sense);
      if (failure) throw failure;
      return reply.data;
    }
  }

  private failure(
    action: PrOutActionName | PrInActionName,
    op: string,
    reply: ScsiReply,
    sense: ReturnType<typeof decodeSense>,
  ): YcsError | null {
    const device = this.device;
    const name = SERVICE_ACTION_NAMES[action];
    if (reply.osErrno !== 0) {
      const errno = errnoName(reply.osErrno);
      if (UNSUPPORTED_ERRNOS.has(errno)) return unsupportedDevice(device, `SCSI passthrough: ${errno}`, op);
      const code: YcsErrorCode = device.startsWith('iscsi://') ? 'E_ISCSI' : 'E_SCSI';
      const what = errno === 'ECONNRESET' ? 'the iSCSI session was re-established; renew the registration' : errno;
      return new YcsError(code, `${name} on ${device} did not complete: ${what}`, { device, op, errno });
    }
    if (reply.hostStatus !== 0) {
      return new YcsError('E_SCSI', `${name} on ${device} failed in transport (host status 0x${reply.hostStatus.toString(16)})`, { device, op });
    }
    if (reply.status === ScsiStatus.good) return null;
    if (reply.status === ScsiStatus.reservationConflict) {
      return new YcsError('E_RESERVATION_CONFLICT', `fenced: ${name} on ${device} refused with RESERVATION CONFLICT`, {
        device, op, errno: 'EBADE',
      });
    }
    if (reply.status === ScsiStatus.checkCondition && sense?.key === SenseKey.illegalRequest) {
      if (sense.asc === 0x20 || sense.asc === 0x24) {
        const inOut = op.startsWith('pr-in') ? 'IN' : 'OUT';
        const what = `${device} does not support PERSISTENT RESERVE ${inOut} service action ${name}`;
        return new YcsError('E_PR_UNSUPPORTED', `${what} (${describeSense(sense)})`, { device, op });
      }
    }
    const detail = sense ? describeSense(sense) : statusName(reply.status);
    return new YcsError('E_SCSI', `${name} on ${device} failed: ${statusName(reply.status)}, ${detail}`, { device, op });
  }
}

/** SCSI type code -> the block layer's enum pr_type (include/uapi/linux/pr.h). */
const BLOCK_PR_TYPE: Record<number, number> = { 1: 1, 3: 2, 5: 3, 6: 4, 7: 5, 8: 6 };
export const PR_FL_IGNORE_KEY = 1;
const PR_STS_RESERVATION_CONFLICT = 0x18;

export function blockPrType(scsiType: number): number {
  const type = BLOCK_PR_TYPE[scsiType];
  if (type === undefined) throw new YcsError('E_INVALID_ARGUMENT', `no block-layer PR type for SCSI type ${scsiType}`);
  return type;
}

/** The block layer's enum pr_type -> the SCSI type code; undefined for 0 (no reservation) or unknown. */
export function scsiPrTypeOfBlock(blockType: number): number | undefined {
  for (const [scsi, block] of Object.entries(BLOCK_PR_TYPE)) if (block === blockType) return Number(scsi);
  return undefined;
}

/** `rc`: 0, a negative errno, or a positive pr_status; `stage` says whether open(2) or the ioctl failed. */
export interface BlockPrReadOutcome {
  stage: 'open' | 'ioctl';
  rc: number;
}
export interface BlockPrKeysOutcome extends BlockPrReadOutcome {
  generation: number;
  /** Keys the device holds (may exceed the capacity asked for). */
  numKeys: number;
  keys: bigint[];
}
export interface BlockPrReservationOutcome extends BlockPrReadOutcome {
  key: bigint;
  generation: number;
  /** Block-layer enum pr_type; 0 without a reservation. */
  type: number;
}

/** What BlockPrTransport's reads go through; the addon by default, a fake in tests. */
export interface BlockPrReadLayer {
  /** IOC_PR_READ_KEYS on `path` with room for `capacity` keys (1..PR_KEYS_MAX). */
  readKeys(path: string, capacity: number): Promise<BlockPrKeysOutcome>;
  /** IOC_PR_READ_RESERVATION on `path`. */
  readReservation(path: string): Promise<BlockPrReservationOutcome>;
  /** The SCSI generic node (/dev/sgN) of the device behind `path`, or why there is none. */
  scsiGenericNode(path: string): ScsiGenericLookup;
  /** A PrDevice that sends SG_IO to a generic node (used for PR IN only). */
  sgDevice(node: string): PrDevice;
}

/** The kernel's limit on IOC_PR_READ_KEYS num_keys (PR_KEYS_MAX, include/uapi/linux/pr.h). */
export const PR_KEYS_MAX = 1 << 16;
const READ_KEYS_INITIAL_CAPACITY = 256;

interface PrReadNative {
  prReadKeys(path: string, capacity: number): Promise<BlockPrKeysOutcome>;
  prReadReservation(path: string): Promise<BlockPrReservationOutcome>;
  sgIoOnNode(path: string, cdb: Uint8Array, direction: ScsiDirection, data: Uint8Array | number, timeoutMs: number): Promise<ScsiReply>;
}

/** The addon's read ioctls and SG_IO on a node it opens itself, with the real sysfs. */
export const nativeBlockPrReads: BlockPrReadLayer = {
  readKeys: (path, capacity) => loadNative<PrReadNative>().prReadKeys(path, capacity),
  readReservation: (path) => loadNative<PrReadNative>().prReadReservation(path),
  scsiGenericNode: (path) => scsiGenericNodeFor(path),
  sgDevice: (node) => ({
    info: { path: node },
    scsi: (cdb, direction, data, timeoutMs) => loadNative<PrReadNative>().sgIoOnNode(node, cdb, direction, data, timeoutMs),
    blockPr: () => Promise.reject(new YcsError('E_INTERNAL', `the SG_IO read path of ${node} sends no IOC_PR_* request`)),
  }),
};

export type ScsiGenericLookup = { node: string } | { reason: string };

export interface SysfsRoots {
  sys: string;
  dev: string;
}

const MAX_STACK_DEPTH = 8;

/**
 * The SCSI generic node of the device behind a block device path, through sysfs: the
 * path's block device (symlinks resolved; /sys/dev/block/MAJ:MIN where the node's name is
 * not in /sys/class/block), its whole disk for a partition, and for device-mapper / md
 * the one device below it (dm-multipath: any path, they are one LU; anything that spans
 * several devices has no single node), then <disk>/device/scsi_generic/sgN.
 */
export function scsiGenericNodeFor(path: string, roots: SysfsRoots = { sys: '/sys', dev: '/dev' }): ScsiGenericLookup {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (err) {
    return { reason: `cannot resolve ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  let sysDir = join(roots.sys, 'class/block', basename(real));
  if (!existsSync(sysDir)) {
    try {
      const st = statSync(real);
      if (st.isBlockDevice()) sysDir = join(roots.sys, 'dev/block', `${majorOf(st.rdev)}:${minorOf(st.rdev)}`);
    } catch {
      // reported below
    }
  }
  if (!existsSync(sysDir)) return { reason: `${real} is not a block device in ${roots.sys}` };
  return genericNodeBelow(realpathSync(sysDir), roots, 0);
}

function genericNodeBelow(sysDir: string, roots: SysfsRoots, depth: number): ScsiGenericLookup {
  let dir = sysDir;
  if (existsSync(join(dir, 'partition'))) dir = dirname(dir); // sdb1 -> sdb
  const name = basename(dir);
  const generic = listDir(join(dir, 'device/scsi_generic')).filter((n) => /^sg\d+$/.test(n));
  if (generic[0] !== undefined) {
    const node = join(roots.dev, generic[0]);
    return existsSync(node) ? { node } : { reason: `${name}'s SCSI generic node ${node} does not exist` };
  }
  const slaves = listDir(join(dir, 'slaves'));
  if (slaves.length > 0 && depth < MAX_STACK_DEPTH) {
    const multipath = readText(join(dir, 'dm/uuid')).startsWith('mpath-');
    if (slaves.length > 1 && !multipath) return { reason: `${name} spans ${slaves.length} devices (${slaves.join(', ')}), not one SCSI LU` };
    const reasons: string[] = [];
    for (const slave of slaves) {
      const below = genericNodeBelow(realpathSync(join(dir, 'slaves', slave)), roots, depth + 1);
      if ('node' in below) return below;
      reasons.push(below.reason);
    }
    return { reason: `${name}: ${reasons.join(', ')}` };
  }
  return { reason: `${name} has no SCSI generic node (no device/scsi_generic in sysfs)` };
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

// glibc's gnu_dev_major / gnu_dev_minor on a dev_t held in a double.
function majorOf(rdev: number): number {
  const big = BigInt(rdev);
  return Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn));
}
function minorOf(rdev: number): number {
  const big = BigInt(rdev);
  return Number((big & 0xffn) | ((big >> 12n) & ~0xffn));
}

/** errnos of a read ioctl that mean "this kernel or driver has no such read": try SG_IO. */
const READ_IOCTL_FALLBACK_ERRNOS = new Set(['ENOTTY', 'EINVAL', 'EOPNOTSUPP', 'ENOTSUP', 'ENOSYS']);

const UNSUPPORTED_DETAIL = /^device does not support persistent reservations: .* \((.*)\)$/;

export class BlockPrTransport implements PrTransport {
  readonly kind = 'block-pr' as const;
  readonly device: string;
  /** Per read, once its ioctl answered "not here": the reason; that ioctl is not tried again. */
  readonly #noReadIoctl = new Map<string, string>();
  #support: KeyReadSupport | undefined;

  constructor(
    private readonly dev: PrDevice,
    private readonly reads: BlockPrReadLayer = nativeBlockPrReads,
  ) {
    this.device = dev.info.path;
  }

  async keyReadSupport(): Promise<KeyReadSupport> {
    if (this.#support !== undefined) return this.#support;
    try {
      await this.readKeys(); // sets #support
    } catch (err) {
      if (!isYcsError(err, 'E_PR_UNSUPPORTED')) return 'none';
      this.#support = 'none';
    }
    return this.#support ?? 'none';
  }

  readKeys(): Promise<ReadKeysResult> {
    return this.read('READ KEYS', () => this.readKeysByIoctl(), (t) => t.readKeys());
  }

  readReservation(): Promise<ReadReservationResult> {
    return this.read('READ RESERVATION', () => this.readReservationByIoctl(), (t) => t.readReservation());
  }

  /** No ioctl reports capabilities: only the SCSI generic node can. */
  reportCapabilities(): Promise<Capabilities> {
    return this.read('REPORT CAPABILITIES', 'no IOC_PR ioctl reports capabilities', (t) => t.reportCapabilities());
  }

  register(currentKey: bigint, newKey: bigint): Promise<void> {
    return this.call('REGISTER', { op: 'register', oldKey: currentKey, newKey, flags: 0 });
  }

  registerAndIgnore(newKey: bigint): Promise<void> {
    return this.call('REGISTER AND IGNORE EXISTING KEY', { op: 'register', oldKey: 0n, newKey, flags: PR_FL_IGNORE_KEY });
  }

  reserve(key: bigint, type: number): Promise<void> {
    return this.call('RESERVE', { op: 'reserve', oldKey: key, type: blockPrType(type), flags: 0 });
  }

  release(key: bigint, type: number): Promise<void> {
    return this.call('RELEASE', { op: 'release', oldKey: key, type: blockPrType(type), flags: 0 });
  }

  clear(key: bigint): Promise<void> {
    return this.call('CLEAR', { op: 'clear', oldKey: key, flags: 0 });
  }

  preempt(key: bigint, victimKey: bigint, type: number): Promise<void> {
    return this.call('PREEMPT', { op: 'preempt', oldKey: key, newKey: victimKey, type: blockPrType(type), flags: 0 });
  }

  preemptAndAbort(key: bigint, victimKey: bigint, type: number): Promise<void> {
    return this.call('PREEMPT AND ABORT', { op: 'preempt-abort', oldKey: key, newKey: victimKey, type: blockPrType(type), flags: 0 });
  }

  /**
   * A read: the ioctl unless it already said "not here", then PR IN through SG_IO on the
   * device's SCSI generic node; E_PR_UNSUPPORTED naming both reasons when neither works.
   */
  private async read<T>(
    name: string,
    viaIoctl: (() => Promise<{ value: T } | { fallback: string }>) | string,
    viaSg: (t: ScsiPrTransport) => Promise<T>,
  ): Promise<T> {
    const op = `block-pr ${name}`;
    let ioctlReason = typeof viaIoctl === 'string' ? viaIoctl : this.#noReadIoctl.get(name);
    if (ioctlReason === undefined && typeof viaIoctl !== 'string') {
      const got = await viaIoctl();
      if ('value' in got) {
        this.#support ??= 'ioctl';
        return got.value;
      }
      ioctlReason = got.fallback;
    }
    const lookup = this.reads.scsiGenericNode(this.device);
    if ('reason' in lookup) throw unsupportedDevice(this.device, `${ioctlReason}; SG_IO: ${lookup.reason}`, op);
    let value: T;
    try {
      value = await viaSg(new ScsiPrTransport(this.reads.sgDevice(lookup.node)));
    } catch (err) {
      if (!isYcsError(err, 'E_PR_UNSUPPORTED')) throw err;
      const detail = UNSUPPORTED_DETAIL.exec(err.message)?.[1] ?? err.message;
      throw unsupportedDevice(this.device, `${ioctlReason}; SG_IO on ${lookup.node}: ${detail}`, op);
    }
    this.#support ??= 'sg';
    return value;
  }

  private async readKeysByIoctl(): Promise<{ value: ReadKeysResult } | { fallback: string }> {
    let capacity = READ_KEYS_INITIAL_CAPACITY;
    for (;;) {
      const got = await this.reads.readKeys(this.device, capacity);
      const fallback = this.readFailure('READ KEYS', got);
      if (fallback !== null) return { fallback };
      if (got.numKeys > capacity && capacity < PR_KEYS_MAX) {
        capacity = Math.min(got.numKeys, PR_KEYS_MAX);
        continue;
      }
      return { value: { generation: got.generation, keys: got.keys, truncated: got.numKeys > got.keys.length } };
    }
  }

  private async readReservationByIoctl(): Promise<{ value: ReadReservationResult } | { fallback: string }> {
    const got = await this.reads.readReservation(this.device);
    const fallback = this.readFailure('READ RESERVATION', got);
    if (fallback !== null) return { fallback };
    if (got.type === 0) return { value: { generation: got.generation, reservation: null } };
    const type = scsiPrTypeOfBlock(got.type);
    if (type === undefined) {
      throw new YcsError('E_SCSI', `READ RESERVATION on ${this.device}: unknown block-layer reservation type ${got.type}`, { device: this.device, op: 'block-pr READ RESERVATION' });
    }
    return { value: { generation: got.generation, reservation: { key: got.key, scope: 0, type } } };
  }

  /** null when the read worked; the fallback reason for "no such ioctl here"; throws otherwise. */
  private readFailure(name: string, got: BlockPrReadOutcome): string | null {
    if (got.rc === 0) return null;
    const op = `block-pr ${name}`;
    if (got.rc > 0) {
      if (got.rc === PR_STS_RESERVATION_CONFLICT) {
        throw new YcsError('E_RESERVATION_CONFLICT', `fenced: ${name} on ${this.device} refused with RESERVATION CONFLICT`, { device: this.device, op, errno: 'EBADE' });
      }
      throw new YcsError('E_SCSI', `${name} on ${this.device} failed with pr_status 0x${got.rc.toString(16)}`, { device: this.device, op });
    }
    const errno = errnoName(-got.rc);
    if (got.stage === 'open') {
      const code: YcsErrorCode = errno === 'ENOENT' ? 'E_NOT_FOUND' : errno === 'EACCES' || errno === 'EPERM' ? 'E_ACCESS' : 'E_IO';
      throw new YcsError(code, `${name} on ${this.device}: cannot open it: ${errno}`, { device: this.device, op: 'open', errno });
    }
    if (READ_IOCTL_FALLBACK_ERRNOS.has(errno)) {
      const reason = `IOC_PR ${name}: ${errno}`;
      this.#noReadIoctl.set(name, reason);
      return reason;
    }
    throw new YcsError(errno === 'EIO' ? 'E_IO' : 'E_SCSI', `${name} on ${this.device} failed: ${errno}`, { device: this.device, op, errno });
  }

  private async call(name: string, request: BlockPrRequest): Promise<void> {
    const op = `block-pr ${name}`;
    const rc = await this.dev.blockPr(request);
    if (rc === 0) return;
    if (rc < 0) {
      const errno = errnoName(-rc);
      if (UNSUPPORTED_ERRNOS.has(errno)) throw unsupportedDevice(this.device, `IOC_PR ${name}: ${errno}`, op);
      if (errno === 'EBADE') {
        throw new YcsError('E_RESERVATION_CONFLICT', `fenced: ${name} on ${this.device} refused with RESERVATION CONFLICT`, { device: this.device, op, errno });
      }
      throw new YcsError(errno === 'EIO' ? 'E_IO' : 'E_SCSI', `${name} on ${this.device} failed: ${errno}`, { device: this.device, op, errno });
    }
    if (rc === PR_STS_RESERVATION_CONFLICT) {
      throw new YcsError('E_RESERVATION_CONFLICT', `fenced: ${name} on ${this.device} refused with RESERVATION CONFLICT`, { device: this.device, op, errno: 'EBADE' });
    }
    throw new YcsError('E_SCSI', `${name} on ${this.device} failed with pr_status 0x${rc.toString(16)}`, { device: this.device, op });
  }
}

/**
 * Which transport a device path gets: SCSI passthrough for SCSI disks, their generic
 * nodes, device-mapper (multipath forwards SG_IO to a path) and iSCSI LUNs; the kernel's
 * PR ioctls for every other block device (NVMe, ...); nothing for regular files.
 */
export function transportKindFor(path: string): PrTransportKind | 'none' {
  if (path.startsWith('iscsi://')) return 'scsi';
  if (/^\/dev\/(sd[a-z]+|sg\d+|mapper\/.+|dm-\d+)$/.test(path)) return 'scsi';
  if (path.startsWith('/dev/')) return 'block-pr';
  return 'none';
}

export function prTransportFor(device: PrDevice, kind?: PrTransportKind): PrTransport {
  const chosen = kind ?? transportKindFor(device.info.path);
  if (chosen === 'scsi') return new ScsiPrTransport(device);
  if (chosen === 'block-pr') return new BlockPrTransport(device);
  throw unsupportedDevice(device.info.path, 'a regular file has no persistent reservations; use fencing driver "none"', 'open');
}
