// Fencing policy (docs/fencing.md): every admitted host is registered with its own key on
// every voting disk and data LUN, a key carrying the epoch it was registered for; the
// master holds a Write Exclusive - Registrants Only reservation; fencing host X reads the
// keys, asks which of X's keys the fence may remove (only keys of older epochs: the
// engine's mayPreempt), PREEMPTs AND ABORTs exactly those values (PREEMPT where the target
// rejects PREEMPT AND ABORT, as tgt does; a value that changed since the read makes the
// target refuse it), then READ KEYS to verify that X holds no key. The driver decides
// nothing: whether this host may register (it was admitted, it was fenced) is the
// engine's decision (src/core/storage-fencing.ts); it only remembers which key it last
// registered on each device. The daemon carries out the engine's register/rekey/reserve/
// fence outputs one device at a time, and ycsctl's manual paths use the all-device ones.
import { YcsError, isYcsError } from '../errors.js';
import { formatKey, PrType, prTypeName } from './cdb.js';
import { hostIdOfKey, parseKey, reservationKey } from './keys.js';
import { isSessionReset, type PrDevice, type PrTransport, prTransportFor, transportKindFor } from './transport.js';

export const MASTER_RESERVATION_TYPE = PrType.writeExclusiveRegistrantsOnly;

export type FenceMethod = 'preempt-and-abort' | 'preempt' | 'already-gone';

/** Which keys of its victim a fence may remove (Engine.mayPreempt); without one, every key. */
export type KeyFilter = (keyEpoch: number | null) => boolean;

export interface FenceOptions {
  /** Asked for each key of the victim read from the storage; a refused key voids the fence. */
  mayPreempt?: KeyFilter;
  /** Hears each step (ycsctl's progress line). */
  onStep?: FenceStepListener;
}

export interface DeviceFenceResult {
  device: string;
  method: FenceMethod;
  /** READ KEYS after the preempt no longer lists the victim's key (false: reads unavailable). */
  verified: boolean;
}

export type FenceOutcome =
  | { kind: 'fenced'; victimHost: number; victimKeys: bigint[]; devices: DeviceFenceResult[] }
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
  /** REGISTER AND IGNORE EXISTING KEY with the key of `epoch` on every device (ycsctl; the daemon goes per device). */
  register(epoch?: number): Promise<void>;
  /** The WERO reservation on every device (ycsctl; the daemon goes per device). */
  reserveAsMaster(): Promise<void>;
  /** REGISTER AND IGNORE EXISTING KEY with the key of `epoch` on device `index` (the engine's `register`). */
  registerDevice(index: number, epoch: number): Promise<void>;
  /**
   * REGISTER from the key of `fromEpoch` to the key of `epoch` on device `index` (the
   * engine's `rekey`): E_RESERVATION_CONFLICT when the old key was preempted.
   */
  rekeyDevice(index: number, fromEpoch: number, epoch: number): Promise<void>;
  /** The WERO reservation on device `index` (the engine's `reserve`): ours already is a no-op. */
  reserveDevice(index: number): Promise<void>;
  /** Evict `victimHost` at the storage and verify it. */
  fence(victimHost: number, options?: FenceOptions): Promise<FenceOutcome>;
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

/** One device of a fence: the victim's keys read there, to be preempted. */
interface FencePlan {
  index: number;
  device: PrFenceDevice;
  keys: bigint[];
}

export class PrFenceDriver implements FenceDriver {
  readonly name = 'pr' as const;
  readonly #devices: PrFenceDevice[];
  /** The key this driver last registered on each device (its nexus's key), by index. */
  readonly #keyOn: Array<bigint | undefined>;
  readonly #noPreemptAndAbort = new Set<string>(); // devices that answered ILLEGAL REQUEST

  get clusterUuid(): string {
    return this.options.clusterUuid;
  }

  constructor(private readonly options: PrFenceDriverOptions) {
    if (options.devices.length === 0) throw new YcsError('E_CONFIG', 'the PR fencing driver needs at least one device');
    reservationKey(options.clusterUuid, options.hostId); // checks the UUID and host id now
    this.#devices = options.devices;
    this.#keyOn = options.devices.map(() => undefined);
  }

  /** This host's key for `epoch`. */
  keyFor(epoch: number): bigint {
    return reservationKey(this.options.clusterUuid, this.options.hostId, epoch);
  }

  /** The key this host registered last (on the first device that has one), else its key of epoch 0. */
  get key(): bigint {
    return this.#keyOn.find((k) => k !== undefined) ?? this.keyFor(0);
  }

  async register(epoch = 0): Promise<void> {
    await this.#onEveryDevice('register', (d, i) => this.#registerOn(d, i, this.keyFor(epoch)));
  }

  async reserveAsMaster(): Promise<void> {
    await this.#onEveryDevice('reserve', (d, i) => this.#reserveOn(d, i));
  }

  async registerDevice(index: number, epoch: number): Promise<void> {
    await this.#onDevice(this.#device(index), index, 'register', (d, i) => this.#registerOn(d, i, this.keyFor(epoch)));
  }

  /**
   * REGISTER from the old key to the new one, checked on the key list where the device can
   * be read: the new key must be listed (else we were preempted meanwhile:
   * E_RESERVATION_CONFLICT) and exactly one registration of the old key must be gone (a
   * target that changed another nexus's registration instead, as istgt 0.4 does, is
   * unsafe to fence with: E_FENCE_FAILED naming it).
   */
  async rekeyDevice(index: number, fromEpoch: number, epoch: number): Promise<void> {
    await this.#onDevice(this.#device(index), index, 'rekey', async (d, i) => {
      const oldKey = this.keyFor(fromEpoch);
      const newKey = this.keyFor(epoch);
      const canRead = (await d.transport.keyReadSupport()) !== 'none';
      const count = (keys: bigint[], key: bigint): number => keys.filter((k) => k === key).length;
      const before = canRead ? (await d.transport.readKeys()).keys : [];
      await d.transport.register(oldKey, newKey);
      this.#keyOn[i] = newKey;
      if (!canRead) return;
      const after = (await d.transport.readKeys()).keys;
      if (!after.includes(newKey)) {
        throw new YcsError('E_RESERVATION_CONFLICT', `the key of epoch ${epoch} is gone from ${d.path} right after the rekey: this host was preempted`, { device: d.path });
      }
      if (count(after, oldKey) !== count(before, oldKey) - 1) {
        throw new YcsError('E_FENCE_FAILED', `${d.path} did not replace this host's key ${formatKey(oldKey)} on REGISTER (still listed ${count(after, oldKey)} times, ${count(before, oldKey)} before): the target changed another registration, persistent reservations on it cannot fence safely`, { device: d.path });
      }
    });
  }

  async reserveDevice(index: number): Promise<void> {
    await this.#onDevice(this.#device(index), index, 'reserve', (d, i) => this.#reserveOn(d, i));
  }

  #device(index: number): PrFenceDevice {
    const device = this.#devices[index];
    if (device === undefined) throw new YcsError('E_INVALID_ARGUMENT', `fenced device ${index} does not exist (${this.#devices.length} devices)`);
    return device;
  }

  async #registerOn(d: PrFenceDevice, index: number, key: bigint): Promise<void> {
    await d.transport.registerAndIgnore(key);
    this.#keyOn[index] = key;
  }

  /** Our nexus's key on device `index`: the one registered last, else the key of epoch 0. */
  #ownKey(index: number): bigint {
    return this.#keyOn[index] ?? this.keyFor(0);
  }

  async #reserveOn(d: PrFenceDevice, index: number): Promise<void> {
    const own = this.#ownKey(index);
    const { reservation } = await d.transport.readReservation();
    if (reservation === null) return d.transport.reserve(own, MASTER_RESERVATION_TYPE);
    if (reservation.key === own && reservation.type === MASTER_RESERVATION_TYPE) return undefined;
    const holder = hostIdOfKey(this.options.clusterUuid, reservation.key);
    // Held under an older key of ours (a session the target kept after a reconnect): move it here.
    if (holder === this.options.hostId) return d.transport.preempt(own, reservation.key, MASTER_RESERVATION_TYPE);
    // Another host holds it: taking it over is a fence of that host, never a side effect.
    throw new YcsError('E_REFUSED', `the reservation on ${d.path} is held by ${holder === null ? formatKey(reservation.key) : `host ${holder}`}: fence it first`, { device: d.path });
  }

  /** Graceful hand-over: give the reservation up (registrations stay). */
  async releaseMaster(): Promise<void> {
    await this.#onEveryDevice('release', (d, i) => d.transport.release(this.#ownKey(i), MASTER_RESERVATION_TYPE));
  }

  /** The epoch a key of this cluster carries (null: a v1 key, or not one of ours). */
  #keyEpoch(key: bigint): number | null {
    return parseKey(this.options.clusterUuid, key)?.keyEpoch ?? null;
  }

  /** The victim's keys listed on a device (distinct values). */
  #victimKeys(keys: bigint[], victimHost: number): bigint[] {
    return [...new Set(keys)].filter((k) => hostIdOfKey(this.options.clusterUuid, k) === victimHost);
  }

  /**
   * Reads every device's keys first, checks each key of the victim with `mayPreempt` (a
   * refused one voids the whole fence before anything is removed), then PREEMPTs exactly
   * the values read, device by device, and verifies that the victim holds no key.
   */
  async fence(victimHost: number, options: FenceOptions = {}): Promise<FenceOutcome> {
    if (victimHost === this.options.hostId) throw new YcsError('E_REFUSED', 'a host never fences itself');
    const onStep = options.onStep ?? ((): void => {});
    const plans: FencePlan[] = [];
    for (const [index, device] of this.#devices.entries()) {
      if ((await device.transport.keyReadSupport()) === 'none') {
        throw new YcsError('E_PR_UNSUPPORTED', `fencing host ${victimHost}: cannot read the keys of ${device.path} (keys carry epochs: a fence must read which to remove)`, { device: device.path });
      }
      onStep(`fencing host ${victimHost}: device ${index + 1} of ${this.#devices.length} (${device.path}): reading keys`);
      plans.push({ index, device, keys: this.#victimKeys((await device.transport.readKeys()).keys, victimHost) });
    }
    const victimKeys = [...new Set(plans.flatMap((p) => p.keys))];
    const mayPreempt = options.mayPreempt ?? ((): boolean => true);
    const newer = victimKeys.find((k) => !mayPreempt(this.#keyEpoch(k)));
    if (newer !== undefined) {
      throw new YcsError('E_REFUSED', `not fencing host ${victimHost}: it holds key ${formatKey(newer)} of epoch ${this.#keyEpoch(newer)}, not older than this fence's: a newer decision admitted it`);
    }
    const results: DeviceFenceResult[] = [];
    const failures: string[] = [];
    for (const plan of plans) {
      const step = (what: string): void => onStep(`fencing host ${victimHost}: device ${plan.index + 1} of ${this.#devices.length} (${plan.device.path}): ${what}`);
      try {
        results.push(await this.#fenceOn(plan, victimHost, mayPreempt, step));
      } catch (err) {
        failures.push(`${plan.device.path}: ${isYcsError(err) ? err.toLine() : String(err)}`);
      }
    }
    if (failures.length > 0) {
      throw new YcsError('E_FENCE_FAILED', `fencing host ${victimHost} failed on ${failures.join('; ')}`);
    }
    return { kind: 'fenced', victimHost, victimKeys, devices: results };
  }

  async #fenceOn(plan: FencePlan, victimHost: number, mayPreempt: KeyFilter, step: (what: string) => void): Promise<DeviceFenceResult> {
    const { device, index, keys: victimKeys } = plan;
    const t = device.transport;
    if (victimKeys.length === 0) return { device: device.path, method: 'already-gone', verified: true };
    let method: FenceMethod = this.#noPreemptAndAbort.has(device.path) ? 'preempt' : 'preempt-and-abort';
    for (const victimKey of victimKeys) method = await this.#preemptOne(device, index, victimKey, method, step);
    step('verifying the key is gone');
    const left = this.#victimKeys((await t.readKeys()).keys, victimHost);
    if (left.length > 0) {
      const newer = left.filter((k) => !mayPreempt(this.#keyEpoch(k)));
      const why = newer.length > 0 ? ': it registered for a newer epoch meanwhile' : ` after ${method}`;
      throw new YcsError('E_FENCE_FAILED', `key ${left.map(formatKey).join(', ')} is still registered on ${device.path}${why}`, { device: device.path });
    }
    // Without a reservation an unregistered host can still write: the preempt fenced nobody.
    if ((await t.readReservation()).reservation === null) {
      throw new YcsError('E_FENCE_FAILED', `${device.path} has no reservation after ${method}: an unregistered host can still write`, { device: device.path });
    }
    return { device: device.path, method, verified: true };
  }

  /**
   * PREEMPT [AND ABORT] of one key value read a moment ago. A RESERVATION CONFLICT there
   * means the value is gone (its holder re-keyed or was removed): the verification that
   * follows tells which. Returns the method that worked (tgt has no PREEMPT AND ABORT).
   */
  async #preemptOne(device: PrFenceDevice, index: number, victimKey: bigint, method: FenceMethod, step: (what: string) => void): Promise<FenceMethod> {
    const t = device.transport;
    const own = this.#ownKey(index);
    try {
      if (method === 'preempt-and-abort') {
        step('preempt-and-abort');
        try {
          await t.preemptAndAbort(own, victimKey, MASTER_RESERVATION_TYPE);
          return method;
        } catch (err) {
          if (!isYcsError(err, 'E_PR_UNSUPPORTED') || t.kind !== 'scsi') throw err;
          this.#noPreemptAndAbort.add(device.path); // tgt: ILLEGAL REQUEST 24/00
          step('preempt (the target has no PREEMPT AND ABORT)');
        }
      } else {
        step('preempt');
      }
      await t.preempt(own, victimKey, MASTER_RESERVATION_TYPE);
      return 'preempt';
    } catch (err) {
      if (!isYcsError(err, 'E_RESERVATION_CONFLICT')) throw err;
      if (!(await t.readKeys()).keys.includes(own)) throw err; // we are not registered: a real refusal
      return this.#noPreemptAndAbort.has(device.path) ? 'preempt' : method; // the value changed meanwhile
    }
  }

  /**
   * After the iSCSI backend had to log in again (ECONNRESET): targets like tgt drop the
   * new session's registration. Re-register only while this host's key is still listed
   * (it was not preempted: a fenced or never registered host gets E_RESERVATION_CONFLICT);
   * a reservation holder also moves its reservation to the new session by preempting its
   * own key. Returns whether a renewal was needed.
   */
  async renewAfterSessionReset(path: string): Promise<boolean> {
    const index = this.#devices.findIndex((d) => d.path === path);
    const device = this.#devices[index];
    if (device === undefined) throw new YcsError('E_INVALID_ARGUMENT', `not a fenced device: ${path}`);
    const t = device.transport;
    const known = this.#keyOn[index];
    if (known !== undefined) {
      try {
        await t.register(known, known); // no-op where the nexus kept its registration
        return false;
      } catch (err) {
        if (!isYcsError(err, 'E_RESERVATION_CONFLICT')) throw err;
      }
    }
    const listed = (await t.readKeys()).keys.filter((k) => hostIdOfKey(this.options.clusterUuid, k) === this.options.hostId);
    const key = known !== undefined && listed.includes(known) ? known : newestKey(this.options.clusterUuid, listed);
    if (key === undefined || (known !== undefined && !listed.includes(known))) {
      throw new YcsError('E_RESERVATION_CONFLICT', `host ${this.options.hostId} is not registered on ${path}: its key is gone (fenced, or never admitted)`, { device: path });
    }
    const { reservation } = await t.readReservation();
    await t.registerAndIgnore(key);
    this.#keyOn[index] = key;
    if (reservation?.key === key) await t.preempt(key, key, MASTER_RESERVATION_TYPE);
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
    const listed = devices.flatMap((d) => (d.registrations ?? []).map((r) => r.key)).filter((k) => hostIdOfKey(this.options.clusterUuid, k) === this.options.hostId);
    const key = this.#keyOn.find((k) => k !== undefined) ?? newestKey(this.options.clusterUuid, listed) ?? this.keyFor(0);
    return { driver: 'pr', hostId: this.options.hostId, key, state: standingOf(key, devices), devices };
  }

  /** Runs `action` on one device; a session reset is renewed (where the key is still listed) and retried once. */
  async #onDevice(device: PrFenceDevice, index: number, what: string, action: (d: PrFenceDevice, index: number) => Promise<unknown>): Promise<void> {
    try {
      await action(device, index);
    } catch (err) {
      if (!isSessionReset(err) || this.options.renewOnSessionReset === false) throw err;
      await this.renewAfterSessionReset(device.path).catch(() => false); // the retry reports what is wrong
      try {
        await action(device, index);
      } catch (retryErr) {
        const e = isYcsError(retryErr) ? retryErr : new YcsError('E_INTERNAL', String(retryErr));
        throw new YcsError(e.code, `${what} on ${device.path} after the session was re-established: ${e.message}`, { device: device.path });
      }
    }
  }

  /** Runs `action` on every device (each as #onDevice); reports every failure in one error. */
  async #onEveryDevice(what: string, action: (d: PrFenceDevice, index: number) => Promise<unknown>): Promise<void> {
    const failures: YcsError[] = [];
    for (const [index, device] of this.#devices.entries()) {
      try {
        await this.#onDevice(device, index, what, action);
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

/** Of a host's keys, the one of the newest epoch (a v1 key counts as oldest). */
function newestKey(clusterUuid: string, keys: bigint[]): bigint | undefined {
  let best: { key: bigint; epoch: number } | undefined;
  for (const key of keys) {
    const epoch = parseKey(clusterUuid, key)?.keyEpoch ?? -1;
    if (best === undefined || epoch > best.epoch) best = { key, epoch };
  }
  return best?.key;
}

/** For storage without persistent reservations (the file-backed demo). */
export class NoneFenceDriver implements FenceDriver {
  readonly name = 'none' as const;

  constructor(private readonly hostId: number) {}

  async register(): Promise<void> {}
  async reserveAsMaster(): Promise<void> {}
  async registerDevice(): Promise<void> {}
  async rekeyDevice(): Promise<void> {}
  async reserveDevice(): Promise<void> {}

  async fence(victimHost: number, _options?: FenceOptions): Promise<FenceOutcome> {
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

/** This host's standing derived from what each device reports (FenceState): `key` is its current key. */
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
