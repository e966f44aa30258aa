// Epoch-carrying reservation keys against a real iSCSI target (tgtd on 127.0.0.1): a host
// re-keys for each new epoch with REGISTER from its old key, a fence removes only keys of
// epochs older than its own, and the target itself refuses a PREEMPT of a value that was
// replaced since the fencer read it (docs/fencing.md "Keys").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preemptable } from '../../src/core/key-epochs.js';
import { initVotingDisk } from '../../src/disk/voting-disk.js';
import { legacyReservationKey, parseKey, reservationKey } from '../../src/fence/keys.js';
import { scratchDir } from '../helpers/loop.js';
import { openPrHost, type PrHost } from '../helpers/pr-host.js';
import { rejection } from '../helpers/rejection.js';
import { startTgtd, type Tgtd } from '../helpers/tgtd.js';

const SECTOR = 512;
const DATA = 8 << 20; // past the voting-disk layout
const iqn = (host: number): string => `iqn.2026-12.io.ycs.test:epochs.host${host}`;

describe('epoch-carrying keys on tgtd', () => {
  let scratch: { dir: string; remove(): void };
  let tgtd: Tgtd;
  let uuid = '';
  const hosts = new Map<number, PrHost>();
  const host = (id: number): PrHost => hosts.get(id)!;
  const keysOf = async (id: number): Promise<bigint[]> =>
    (await host(1).transport.readKeys()).keys.filter((k) => parseKey(uuid, k)?.hostId === id);
  /** What the engine answers for a fence of `epoch` (Engine.mayPreempt). */
  const forEpoch = (epoch: number) => ({ mayPreempt: (keyEpoch: number | null) => preemptable(keyEpoch, epoch) });

  beforeAll(async () => {
    scratch = scratchDir('ycs-epoch-keys-');
    tgtd = await startTgtd({ dir: scratch.dir });
    uuid = (await initVotingDisk(tgtd.url(), { clusterName: 'epochs', hostSlots: 3, iscsiInitiatorIqn: iqn(9) })).clusterUuid;
    for (const id of [1, 2, 3]) hosts.set(id, await openPrHost({ url: tgtd.url(), initiatorIqn: iqn(id), clusterUuid: uuid, hostId: id }));
    // Epoch 4 admits all three; host 1 is its master.
    for (const id of [1, 2, 3]) await host(id).driver.registerDevice(0, 4);
    await host(1).driver.reserveDevice(0);
  });

  afterAll(async () => {
    await Promise.allSettled([...hosts.values()].map((h) => h.device.close()));
    await tgtd?.stop();
    scratch?.remove();
  });

  it('a rekey replaces the key in place: the reservation follows its holder', async () => {
    await host(1).driver.rekeyDevice(0, 4, 5);
    expect(await keysOf(1)).toEqual([reservationKey(uuid, 1, 5)]);
    const { reservation } = await host(2).transport.readReservation();
    expect(reservation?.key).toBe(reservationKey(uuid, 1, 5));
    await host(1).device.write(DATA, Buffer.alloc(SECTOR, 1)); // still the master's writes
  });

  it('a fence refuses a victim registered for the fence epoch or newer, removing nothing', async () => {
    await host(2).driver.rekeyDevice(0, 4, 6); // host 2 admitted by epoch 6, which host 1 has not read
    const err = await rejection(host(1).driver.fence(2, forEpoch(5)));
    expect(err.code).toBe('E_REFUSED');
    expect(err.message).toMatch(/holds key 0x[0-9a-f]{16} of epoch 6, not older than this fence's: a newer decision admitted it/);
    expect(await keysOf(2)).toEqual([reservationKey(uuid, 2, 6)]);
    await host(2).device.write(DATA + SECTOR, Buffer.alloc(SECTOR, 2));
  });

  it("the target refuses a PREEMPT of the value the fencer read once the victim re-keyed", async () => {
    const stale = reservationKey(uuid, 3, 4);
    expect(await keysOf(3)).toEqual([stale]); // what a fencer of epoch 5 reads
    await host(3).driver.rekeyDevice(0, 4, 7); // a newer decision keeps host 3: it re-keys before the PREEMPT lands
    const err = await rejection(host(1).transport.preempt(reservationKey(uuid, 1, 5), stale, 5));
    expect(err.code).toBe('E_RESERVATION_CONFLICT');
    expect(await keysOf(3)).toEqual([reservationKey(uuid, 3, 7)]);
    await host(3).device.write(DATA + 2 * SECTOR, Buffer.alloc(SECTOR, 3));
  });

  it('a fence of a newer epoch removes the older key; the victim\'s rekey then reports its key gone', async () => {
    const outcome = await host(1).driver.fence(3, forEpoch(8));
    expect(outcome).toMatchObject({ kind: 'fenced', victimHost: 3, victimKeys: [reservationKey(uuid, 3, 7)], devices: [{ method: 'preempt', verified: true }] });
    await rejection(host(3).device.write(DATA + 2 * SECTOR, Buffer.alloc(SECTOR, 3))); // UNIT ATTENTION first (tgt)
    const refused = await rejection(host(3).device.write(DATA + 2 * SECTOR, Buffer.alloc(SECTOR, 3)));
    expect(refused.code).toBe('E_RESERVATION_CONFLICT');
    // A host that missed its fence never re-registers by re-keying: REGISTER from the old key conflicts.
    const gone = await rejection(host(3).driver.rekeyDevice(0, 7, 9));
    expect(gone.code).toBe('E_RESERVATION_CONFLICT');
    expect(await keysOf(3)).toEqual([]);
  });

  it('a v1 key (before keys carried epochs) counts as older than any epoch', async () => {
    const legacy = legacyReservationKey(uuid, 3);
    expect(parseKey(uuid, legacy)).toEqual({ hostId: 3, keyEpoch: null });
    await host(3).transport.registerAndIgnore(legacy); // a host still running the old version
    expect((await host(1).driver.fence(3, forEpoch(9))).kind).toBe('fenced');
    expect(await keysOf(3)).toEqual([]);
  });
});
