// Operator fencing with no daemon: open the devices directly, act as the local host, and
// close them again. `ycsctl fence status|HOST --device` and `ycsctl unfence --force` use
// these; the daemon's control socket will offer the same actions through its own driver.
import { SectorDevice } from '../disk/device.js';
import { readHeader, type DeviceAccess } from '../disk/voting-disk.js';
import { YcsError, isYcsError } from '../errors.js';
import { type DeviceFenceStatus, type FenceOutcome, type FenceStepListener, PrFenceDriver, type PrFenceDevice, readDeviceStatus } from './driver.js';
import { hostIdOfKey, uuidBytes } from './keys.js';
import { prTransportFor, transportKindFor } from './transport.js';

/** How to reach the devices: I/O deadline, and for iscsi:// the local host's initiator name and ISID. */
export type { DeviceAccess };

interface OpenedDevices {
  devices: PrFenceDevice[];
  sectorDevices: SectorDevice[];
  close(): Promise<void>;
}

async function openAll(paths: string[], access: DeviceAccess, readOnly: boolean): Promise<OpenedDevices> {
  const sectorDevices: SectorDevice[] = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(sectorDevices.map((d) => d.close()));
  };
  try {
    for (const path of paths) {
      if (transportKindFor(path) === 'none') {
        throw new YcsError('E_PR_UNSUPPORTED', `device does not support persistent reservations: ${path} (a regular file; the cluster uses fencing driver "none")`, { device: path });
      }
      if (path.startsWith('iscsi://') && access.iscsiInitiatorIqn === undefined) {
        throw new YcsError('E_USAGE', `${path} needs --initiator IQN (the local host's initiator name)`);
      }
      sectorDevices.push(await SectorDevice.open(path, { ...access, readOnly }));
    }
  } catch (err) {
    await close();
    throw err;
  }
  const devices = sectorDevices.map((d) => ({ path: d.info.path, transport: prTransportFor(d) }));
  return { devices, sectorDevices, close };
}

/** The cluster UUID as given, or as written in the voting disk header of `device`. */
async function clusterUuidOf(device: SectorDevice, given: string | undefined): Promise<string> {
  if (given !== undefined) {
    uuidBytes(given);
    return given.toLowerCase();
  }
  try {
    return (await readHeader(device)).clusterUuid;
  } catch (err) {
    const why = isYcsError(err) ? err.toLine() : String(err);
    throw new YcsError('E_INVALID_ARGUMENT', `cannot read the cluster UUID from ${device.info.path} (${why}): give --cluster-uuid`, { device: device.info.path });
  }
}

export interface StatusReport extends DeviceFenceStatus {
  clusterUuid: string;
}

export async function fenceStatus(path: string, clusterUuid: string | undefined, access: DeviceAccess): Promise<StatusReport> {
  const opened = await openAll([path], access, true);
  try {
    const uuid = await clusterUuidOf(opened.sectorDevices[0]!, clusterUuid);
    const status = await readDeviceStatus(uuid, opened.devices[0]!);
    if (status.error) throw new YcsError(status.error.code as YcsError['code'], status.error.message, { device: path });
    return { ...status, clusterUuid: uuid };
  } finally {
    await opened.close();
  }
}

export interface LocalHostAction {
  paths: string[];
  localHost: number;
  clusterUuid?: string;
  access: DeviceAccess;
}

async function withLocalDriver<T>(action: LocalHostAction, body: (driver: PrFenceDriver, devices: PrFenceDevice[]) => Promise<T>): Promise<T> {
  const opened = await openAll(action.paths, action.access, false);
  try {
    const uuid = await clusterUuidOf(opened.sectorDevices[0]!, action.clusterUuid);
    const driver = new PrFenceDriver({ clusterUuid: uuid, hostId: action.localHost, devices: opened.devices });
    return await body(driver, opened.devices);
  } finally {
    await opened.close();
  }
}

/**
 * Manual eviction by the local host: refused unless the local host holds the reservation
 * on every device (only the master fences), then PREEMPT [AND ABORT] and verification.
 */
export function fenceHostDirect(action: LocalHostAction & { victimHost: number; onStep?: FenceStepListener }): Promise<FenceOutcome> {
  if (action.victimHost === action.localHost) {
    return Promise.reject(new YcsError('E_REFUSED', `refusing to fence the local host (${action.localHost})`));
  }
  return withLocalDriver(action, async (driver, devices) => {
    for (const d of devices) {
      const { reservation } = await d.transport.readReservation();
      if (reservation === null || hostIdOfKey(driver.clusterUuid, reservation.key) !== action.localHost) {
        throw new YcsError('E_NOT_MASTER', `refusing: the local host (${action.localHost}) does not hold the reservation on ${d.path}`, { device: d.path });
      }
    }
    await driver.resume();
    // The operator's decision: every key of the victim, whatever its epoch.
    return driver.fence(action.victimHost, action.onStep === undefined ? {} : { onStep: action.onStep });
  });
}

/** Re-registers the local host on every device (ycsctl unfence --force, daemon down). */
export function unfenceDirect(action: LocalHostAction): Promise<bigint> {
  return withLocalDriver(action, async (driver) => {
    await driver.register();
    return driver.key;
  });
}
