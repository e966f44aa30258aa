// Fence driver rules that need no storage: the `none` driver, and refusals that happen
// before any command is sent (the PR paths are covered against tgtd in integration/).
import { describe, expect, it } from 'vitest';
import { isYcsError } from '../../src/errors.js';
import { NoneFenceDriver, PrFenceDriver, createFenceDriver, describeStatusDevice, standingOf } from '../../src/fence/driver.js';
import { reservationKey } from '../../src/fence/keys.js';
import { ScsiPrTransport, type PrDevice } from '../../src/fence/transport.js';

const UUID = '6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';

/** A device that must never be reached: every refusal below happens before I/O. */
const unreachable: PrDevice = {
  info: { path: '/dev/sdq' },
  scsi: () => Promise.reject(new Error('no command may be sent')),
  blockPr: () => Promise.reject(new Error('no command may be sent')),
};

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isYcsError(err)) return err.code;
    throw err;
  }
  return 'resolved';
}

describe('the none driver', () => {
  it('never fences: promotion waits for the self-fence deadline', async () => {
    const driver = new NoneFenceDriver(2);
    await driver.register();
    await driver.reserveAsMaster();
    await driver.registerDevice();
    await driver.rekeyDevice();
    await driver.reserveDevice();
    expect(await driver.fence(1)).toEqual({
      kind: 'not-fenced', victimHost: 1,
      reason: 'not fenced: the storage has no persistent reservations; wait for the self-fence deadline',
    });
    expect(await driver.status()).toEqual({ driver: 'none', hostId: 2, state: 'none', devices: [] });
  });
});

describe('the PR driver refuses before touching the storage', () => {
  const driver = (): PrFenceDriver =>
    new PrFenceDriver({ clusterUuid: UUID, hostId: 1, devices: [{ path: '/dev/sdq', transport: new ScsiPrTransport(unreachable) }] });

  it('needs a device', () => {
    expect(() => new PrFenceDriver({ clusterUuid: UUID, hostId: 1, devices: [] })).toThrow(/at least one device/);
  });

  it('never fences the local host', async () => {
    expect(await code(driver().fence(1))).toBe('E_REFUSED');
  });

  it('a device index outside the fenced devices is refused, naming the count', async () => {
    const err = driver().registerDevice(1, 3);
    expect(await code(err)).toBe('E_INVALID_ARGUMENT');
    expect(await code(driver().reserveDevice(-1))).toBe('E_INVALID_ARGUMENT');
  });

  it('derives the standing from what the devices report', () => {
    const key = reservationKey(UUID, 1);
    const other = reservationKey(UUID, 2);
    const dev = (keys: bigint[], holder: bigint | null) => ({
      device: '/dev/sdq', transport: 'scsi', registrations: describeStatusDevice(UUID, keys),
      reservation: holder === null ? null : { key: holder, hostId: null, type: 5, typeName: 'x' },
    });
    expect(standingOf(key, [dev([key], key), dev([key, other], key)])).toBe('master');
    expect(standingOf(key, [dev([key], other), dev([key], null)])).toBe('registered');
    expect(standingOf(key, [dev([key], other), dev([other], other)])).toBe('partly-registered');
    expect(standingOf(key, [dev([other], other)])).toBe('unregistered');
    expect(standingOf(key, [{ device: '/dev/sdq', transport: 'block-pr', error: { code: 'E_PR_UNSUPPORTED', message: 'x' } }])).toBe('unknown');
  });

  it('groups duplicate registrations and names foreign keys', () => {
    const k1 = reservationKey(UUID, 1);
    expect(describeStatusDevice(UUID, [k1, 0x42n, k1])).toEqual([
      { key: k1, hostId: 1, count: 2 },
      { key: 0x42n, hostId: null, count: 1 },
    ]);
  });
});

describe('createFenceDriver', () => {
  const at = (path: string): PrDevice => ({ ...unreachable, info: { path } });

  it("'auto' picks none for files and pr for devices", () => {
    expect(createFenceDriver({ driver: 'auto', clusterUuid: UUID, hostId: 1, devices: [at('/var/lib/ycs/a.img')] }).name).toBe('none');
    const pr = createFenceDriver({ driver: 'auto', clusterUuid: UUID, hostId: 1, devices: [at('/dev/sdb'), at('iscsi://h/iqn.x:y/1')] });
    expect(pr).toBeInstanceOf(PrFenceDriver);
  });

  it('refuses pr over a regular file', () => {
    expect(() => createFenceDriver({ driver: 'auto', clusterUuid: UUID, hostId: 1, devices: [at('/dev/sdb'), at('/tmp/x.img')] }))
      .toThrow(/cannot fence through regular files: \/tmp\/x.img/);
  });
});
