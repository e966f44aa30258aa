// Fencing policy (docs/fencing.md): every admitted host is registered with its own key on
// every voting disk and data LUN; the master holds a Write Exclusive - Registrants Only
// reservation; fencing host X is PREEMPT AND ABORT of X's key by a registered survivor
// (PREEMPT where the target rejects PREEMPT AND ABORT, as tgt does), then READ KEYS to
// verify that X's key is gone. The driver keeps no state of its own: whether this host
// may register (it was admitted, it was fenced) is the engine's decision (src/core/
// storage-fencing.ts); the daemon carries out its register/reserve/fence outputs one device
// at a time, and ycsctl's manual paths use the all-device operations.
import { YcsError, isYcsError } from '../errors.js';
import { formatKey, PrType, prTypeName } from './cdb.js';
import { hostIdOfKey, reservationKey } from './keys.js';
import { isSessionReset, type PrDevice, type PrTransport, prTransportFor, transportKindFor } from './transport.js';

export const MASTER_RESERVATION_TYPE = PrType.writeExclusiveRegistrantsOnly;

export type FenceMethod = 'preempt-and-abort' | 'preempt' | 'already-gone';

export interface DeviceFenceResult {
  device: string;
  method: FenceMethod;
  /** READ KEYS after the preempt no longer lists the victim's key (false: reads unavailable). */
  verified: boolean;
}

export type FenceOutcome =
  | { kind: 'fenced'; victimHost: number; victimKey: bigint; devices: DeviceFenceResult[] }
  | { kind: 'not-fenced'; victimHost: number; reason: string };

export interface Registration {
  key: bigint;
  hostId: number | null; // null: not a key of this cluster
  count: number; // registrations with this key (tgt keeps a stale one per lost session)
}

export interface DeviceFenceStatus {
  device: string;
  transport: string;
  generation?: number;
  registrations?: Registration[];
  reservation?: { key: bigint; hostId: number | null; type: number; typeName: string } | null;
  error?: { code: string; message: string };
}

/**
 * This host's standing as read from the storage: its key on no device / some devices /
 * every device, or every device reserved by it. (Whether it was fenced or never admitted
 * the storage cannot tell; the engine knows.)
 */
export type FenceState = 'unregistered' | 'partly-registered' | 'registered' | 'master' | 'unknown';

export interface FenceStatus {
  driver: 'pr' | 'none';
  hostId: number;
  key?: bigint;
  state: FenceState | 'none';
  devices: DeviceFenceStatus[];
}

/** The interface the daemon (and ycsctl without a daemon) drives. */
/** Hears each step of a fence, as one line of text. */
export type FenceStepListener = (text: string) => void;

export interface FenceDriver {
  readonly name: 'pr' | 'none';
  /** REGISTER AND IGNORE EXISTING KEY on every device (ycsctl; the daemon goes per device). */
  register(): Promise<void>;
  /** The WERO reservation on every device (ycsctl; the daemon goes per device). */
  reserveAsMaster(): Promise<void>;
  /** REGISTER AND IGNORE EXISTING KEY on device `index` (the engine's `register`). */
  registerDevice(index: number): Promise<void>;
  /** The WERO reservation on device `index` (the engine's `reserve`): ours already is a no-op. */
  reserveDevice(index: number): Promise<void>;
  /** Evict `victimHost` at the storage and verify it; `onStep` hears each step (ycsctl's progress line). */
  fence(victimHost: number, onStep?: FenceStepListener): Promise<FenceOutcome>;
  status(): Promise<FenceStatus>;
}

export interface PrFenceDevice {
  path: string;
  transport: PrTransport;
}

export interface PrFenceDriverOptions {
  clusterUuid: string;
  hostId: number;
  devices: PrFenceDevice[];
  /**
   * After ECONNRESET, renew the registration here (renewAfterSessionReset) and retry: for
   * ycsctl acting for a host whose daemon is down. The daemon passes false: the error goes
   * to the engine, which re-registers only once the decided state admits the host.
   * Default true.
   */
  renewOnSessionReset?: boolean;
}

export function describeStatusDevice(clusterUuid: string, keys: bigint[]): Registration[] {
  const byKey = new Map<bigint, Registration>();
  for (const key of keys) {
    const entry = byKey.get(key) ?? { key, hostId: hostIdOfKey(clusterUuid, key), count: 0 };
    entry.count++;
    byKey.set(key, entry);
  }
  return [...byKey.values()];
}

export async function readDeviceStatus(clusterUuid: string, device: PrFenceDevice): Promise<DeviceFenceStatus> {
  const out: DeviceFenceStatus = { device: device.path, transport: device.transport.kind };
  try {
    const keys = await device.transport.readKeys();
    const reservation = await device.transport.readReservation();
    out.generation = keys.generation;
    out.registrations = describeStatusDevice(clusterUuid, keys.keys);
    out.reservation = reservation.reservation && {
      key: reservation.reservation.key,
      hostId: hostIdOfKey(clusterUuid, reservation.reservation.key),
      type: reservation.reservation.type,
      typeName: prTypeName(reservation.reservation.type),
    };
  } catch (err) {
    const e = isYcsError(err) ? err : new YcsError('E_INTERNAL', String(err));
    out.error = { code: e.code, message: e.message };
  }
  return out;
}

export class PrFenceDriver implements FenceDriver {
  readonly name = 'pr' as const;
  readonly key: bigint;
  readonly #devices: PrFenceDevice[];
  readonly #noPreemptAndAbort = new Set<string>(); // devices that answered ILLEGAL REQUEST

  constructor(private readonly options: PrFenceDriverOptions) {
    if (options.devices.length === 0) throw new YcsError('E_CONFIG', 'the PR fencing driver needs at least one device');
    this.key = reservationKey(options.clusterUuid, options.hostId);
    this.#devices = options.devices;
  }

  async register(): Promise<void> {
    await this.#onEveryDevice('register', (d) => d.transport.registerAndIgnore(this.key));
  }

  async reserveAsMaster(): Promise<void> {
    await this.#onEveryDevice('reserve', (d) => this.#reserveOn(d));
  }

  async registerDevice(index: number): Promise<void> {
    await this.#onDevice(this.#device(index), 'register', (d) => d.transport.registerAndIgnore(this.key));
  }

  async reserveDevice(index: number): Promise<void> {
    await this.#onDevice(this.#device(index), 'reserve', (d) => this.#reserveOn(d));
  }

  #device(index: number): PrFenceDevice {
    const device = this.#devices[index];
    if (device === undefined) throw new YcsError('E_INVALID_ARGUMENT', `fenced device ${index} does not exist (${this.#devices.length} devices)`);
    return device;
  }

  async #reserveOn(d: PrFenceDevice): Promise<void> {
    const { reservation } = await d.transport.readReservation();
    if (reservation === null) return d.transport.reserve(this.key, MASTER_RESERVATION_TYPE);
    if (reservation.key === this.key && reservation.type === MASTER_RESERVATION_TYPE) return undefined;
    // Another key holds it: taking it over is a fence of that host, never a side effect.
    const holder = hostIdOfKey(this.options.clusterUuid, reservation.key);
    throw new YcsError('E_REFUSED', `the reservation on ${d.path} is held by ${holder === null ? formatKey(reservation.key) : `host ${holder}`}: fence it first`, { device: d.path });
  }

  /** Graceful hand-over: give the reservation up (registrations stay). */
  async releaseMaster(): Promise<void> {
    await this.#onEveryDevice('release', (d) => d.transport.release(this.key, MASTER_RESERVATION_TYPE));
  }

  async fence(victimHost: number, onStep: FenceStepListener = () => {}): Promise<FenceOutcome> {
    if (victimHost === this.options.hostId) throw new YcsError('E_REFUSED', 'a host never fences itself');
    const victimKey = reservationKey(this.options.clusterUuid, victimHost);
    const results: DeviceFenceResult[] = [];
    const failures: string[] = [];
    for (const [index, device] of this.#devices.entries()) {
      const step = (what: string): void => onStep(`fencing host ${victimHost}: device ${index + 1} of ${this.#devices.length} (${device.path}): ${what}`);
      try {
        results.push(await this.#fenceOn(device, victimKey, step));
      } catch (err) {
        failures.push(`${device.path}: ${isYcsError(err) ? err.toLine() : String(err)}`);
      }
    }
    if (failures.length > 0) {
      throw new YcsError('E_FENCE_FAILED', `fencing host ${victimHost} (key ${formatKey(victimKey)}) failed on ${failures.join('; ')}`);
    }
    return { kind: 'fenced', victimHost, victimKey, devices: results };
  }

  async #fenceOn(device: PrFenceDevice, victimKey: bigint, step: (what: string) => void): Promise<DeviceFenceResult> {
    const t = device.transport;
    const canRead = (await t.keyReadSupport()) !== 'none'; // verified only when a read can confirm it
    // PREEMPT of a key nobody holds is a RESERVATION CONFLICT: check first.
    if (canRead) step('reading keys');
    if (canRead && !(await t.readKeys()).keys.includes(victimKey)) {
      return { device: device.path, method: 'already-gone', verified: true };
    }
    let method: FenceMethod = 'preempt-and-abort';
    if (this.#noPreemptAndAbort.has(device.path)) method = 'preempt';
    try {
      step(method);
      if (method === 'preempt-and-abort') await t.preemptAndAbort(this.key, victimKey, MASTER_RESERVATION_TYPE);
    } catch (err) {
      if (!isYcsError(err, 'E_PR_UNSUPPORTED') || t.kind !== 'scsi') throw err;
      this.#noPreemptAndAbort.add(device.path); // tgt: ILLEGAL REQUEST 24/00
      method = 'preempt';
      step('preempt (the target has no PREEMPT AND ABORT)');
    }
    if (method === 'preempt') await t.preempt(this.key, victimKey, MASTER_RESERVATION_TYPE);
    if (!canRead) return { device: device.path, method, verified: false };
    step('verifying the key is gone');
    if ((await t.readKeys()).keys.includes(victimKey)) {
      throw new YcsError('E_FENCE_FAILED', `key ${formatKey(victimKey)} is still registered on ${device.path} after ${method}`, { device: device.path });
    }
    // Without a reservation an unregistered host can still write: the preempt fenced nobody.
    if ((await t.readReservation()).reservation === null) {
      throw new YcsError('E_FENCE_FAILED', `${device.path} has no reservation after ${method}: an unregistered host can still write`, { device: device.path });
    }
    return { device: device.path, method, verified: true };
  }

  /**
   * After the iSCSI backend had to log in again (ECONNRESET): targets like tgt drop the
   * new session's registration. Re-register only while this host's key is still listed
   * (it was not preempted: a fenced or never registered host gets E_RESERVATION_CONFLICT);
   * a reservation holder also moves its reservation to the new session by preempting its
   * own key. Returns whether a renewal was needed.
   */
  async renewAfterSessionReset(path: string): Promise<boolean> {
    const device = this.#devices.find((d) => d.path === path);
    if (device === undefined) throw new YcsError('E_INVALID_ARGUMENT', `not a fenced device: ${path}`);
    const t = device.transport;
    try {
      await t.register(this.key, this.key); // no-op where the nexus kept its registration
      return false;
    } catch (err) {
      if (!isYcsError(err, 'E_RESERVATION_CONFLICT')) throw err;
    }
    if (!(await t.readKeys()).keys.includes(this.key)) {
      throw new YcsError('E_RESERVATION_CONFLICT', `host ${this.options.hostId} is not registered on ${path}: its key is gone (fenced, or never admitted)`, { device: path });
    }
    const { reservation } = await t.readReservation();
    await t.registerAndIgnore(this.key);
    if (reservation?.key === this.key) await t.preempt(this.key, this.key, MASTER_RESERVATION_TYPE);
    return true;
  }

  /**
   * For a process that opens the devices of a host the cluster already admitted (ycsctl
   * acting for the local host): adopt the registration this host's key still has,
   * renewing the new session where the target forgot it. A key that is gone means the
   * host was fenced (or never admitted): E_RESERVATION_CONFLICT.
   */
  async resume(): Promise<void> {
    for (const d of this.#devices) await this.renewAfterSessionReset(d.path);
  }

  async status(): Promise<FenceStatus> {
    const devices = [];
    for (const d of this.#devices) devices.push(await readDeviceStatus(this.options.clusterUuid, d));
    return { driver: 'pr', hostId: this.options.hostId, key: this.key, state: standingOf(this.key, devices), devices };
  }

  /** Runs `action` on one device; a session reset is renewed (where the key is still listed) and retried once. */
  async #onDevice(device: PrFenceDevice, what: string, action: (d: PrFenceDevice) => Promise<unknown>): Promise<void> {
    try {
      await action(device);
    } catch (err) {
      if (!isSessionReset(err) || this.options.renewOnSessionReset === false) throw err;
      await this.renewAfterSessionReset(device.path).catch(() => false); // the retry reports what is wrong
      try {
        await action(device);
      } catch (retryErr) {
        const e = isYcsError(retryErr) ? retryErr : new YcsError('E_INTERNAL', String(retryErr));
        throw new YcsError(e.code, `${what} on ${device.path} after the session was re-established: ${e.message}`, { device: device.path });
      }
    }
  }

  /** Runs `action` on every device (each as #onDevice); reports every failure in one error. */
  async #onEveryDevice(what: string, action: (d: PrFenceDevice) => Promise<unknown>): Promise<void> {
    const failures: YcsError[] = [];
    for (const device of this.#devices) {
      try {
        await this.#onDevice(device, what, action);
      } catch (err) {
        failures.push(isYcsError(err) ? err : new YcsError('E_INTERNAL', String(err)));
      }
    }
    const first = failures[0];
    if (first === undefined) return;
    if (failures.length === 1) throw first;
    throw new YcsError(first.code, `${what} failed on ${failures.length} devices: ${failures.map((f) => f.message).join('; ')}`);
  }
}

/** For storage without persistent reservations (the file-backed demo). */
export class NoneFenceDriver implements FenceDriver {
  readonly name = 'none' as const;

  constructor(private readonly hostId: number) {}

  async register(): Promise<void> {}
  async reserveAsMaster(): Promise<void> {}
  async registerDevice(): Promise<void> {}
  async reserveDevice(): Promise<void> {}

  async fence(victimHost: number, _onStep?: FenceStepListener): Promise<FenceOutcome> {
    return {
      kind: 'not-fenced',
      victimHost,
      reason: 'not fenced: the storage has no persistent reservations; wait for the self-fence deadline',
    };
  }

  async status(): Promise<FenceStatus> {
    return { driver: 'none', hostId: this.hostId, state: 'none', devices: [] };
  }
}

/** This host's standing derived from what each device reports (FenceState). */
export function standingOf(key: bigint, devices: DeviceFenceStatus[]): FenceState {
  if (devices.some((d) => d.error !== undefined || d.registrations === undefined)) return 'unknown';
  if (devices.every((d) => d.reservation?.key === key)) return 'master';
  const registered = devices.filter((d) => d.registrations?.some((r) => r.key === key)).length;
  if (registered === devices.length) return 'registered';
  return registered === 0 ? 'unregistered' : 'partly-registered';
}

export interface CreateFenceDriverOptions {
  /** 'auto': 'none' when every device is a regular file, 'pr' when none is. */
  driver: 'pr' | 'none' | 'auto';
  clusterUuid: string;
  hostId: number;
  /** The SectorDevices the host already does its sector I/O on (one session each). */
  devices: PrDevice[];
  /** PrFenceDriverOptions.renewOnSessionReset. */
  renewOnSessionReset?: boolean;
}

/** The daemon's entry point: the driver for the configured voting disks and data LUNs. */
export function createFenceDriver(options: CreateFenceDriverOptions): FenceDriver {
  const files = options.devices.filter((d) => transportKindFor(d.info.path) === 'none').map((d) => d.info.path);
  let driver = options.driver;
  if (driver === 'auto') driver = files.length === options.devices.length ? 'none' : 'pr';
  if (driver === 'none') return new NoneFenceDriver(options.hostId);
  if (files.length > 0) {
    throw new YcsError('E_CONFIG', `fencing driver "pr" cannot fence through regular files: ${files.join(', ')}`);
  }
  const devices = options.devices.map((d) => ({ path: d.info.path, transport: prTransportFor(d) }));
  return new PrFenceDriver({
    clusterUuid: options.clusterUuid, hostId: options.hostId, devices,
    ...(options.renewOnSessionReset === undefined ? {} : { renewOnSessionReset: options.renewOnSessionReset }),
  });
}
