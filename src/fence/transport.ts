// Persistent reservations over one device, behind one interface (PrTransport), with two
// implementations:
//   - ScsiPrTransport: raw PERSISTENT RESERVE IN/OUT CDBs (src/fence/cdb.ts) sent through
//     the device's SCSI passthrough: SG_IO for /dev/sd*, /dev/sg*, /dev/mapper/*, and
//     libiscsi for iscsi:// LUNs (the same bytes either way);
//   - BlockPrTransport: the kernel's IOC_PR_* ioctls (NVMe and other block devices), which
//     use the block layer's own type numbering and cannot read keys on this kernel.
// The transport must share the SectorDevice that does the host's sector I/O: a
// registration belongs to an I_T nexus, and a second iSCSI session with the same
// initiator name and ISID would make the target drop the first one.
import { constants as osConstants } from 'node:os';
import { YcsError, type YcsErrorCode } from '../errors.js';
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

export interface PrTransport {
  readonly kind: PrTransportKind;
  readonly device: string;
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

export class BlockPrTransport implements PrTransport {
  readonly kind = 'block-pr' as const;
  readonly device: string;

  constructor(private readonly dev: PrDevice) {
    this.device = dev.info.path;
  }

  // IOC_PR_READ_KEYS / IOC_PR_READ_RESERVATION only exist from Linux 6.19 and are not
  // reachable through this addon yet: reads need a SCSI path (docs/fencing.md).
  readKeys(): Promise<ReadKeysResult> {
    return Promise.reject(this.noReads('READ KEYS'));
  }

  readReservation(): Promise<ReadReservationResult> {
    return Promise.reject(this.noReads('READ RESERVATION'));
  }

  reportCapabilities(): Promise<Capabilities> {
    return Promise.reject(this.noReads('REPORT CAPABILITIES'));
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

  private noReads(name: string): YcsError {
    return new YcsError('E_PR_UNSUPPORTED', `${name} is not available through the block-layer PR ioctls on ${this.device}`, {
      device: this.device, op: `block-pr ${name}`,
    });
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
