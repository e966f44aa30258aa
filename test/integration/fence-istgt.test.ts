// The fencing path against a second, independent iSCSI target: istgt (FreeBSD's userspace
// target, Debian package istgt 0.4) on 127.0.0.1, three initiators as three hosts, each
// with its sector I/O and persistent reservations on one libiscsi session. What works the
// same as on tgt, what differs, and a defect the driver's rekey check detects
// (docs/fencing.md "Targets tested").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preemptable } from '../../src/core/key-epochs.js';
import { parseKey, reservationKey } from '../../src/fence/keys.js';
import { startIstgt, type Istgt } from '../helpers/istgt.js';
import { scratchDir } from '../helpers/loop.js';
import { openPrHost, type PrHost } from '../helpers/pr-host.js';
import { rejection } from '../helpers/rejection.js';

const SECTOR = 512;
const UUID = '6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';

describe('fencing on an iSCSI LUN served by istgt', () => {
  let scratch: { dir: string; remove(): void };
  let target: Istgt;
  const hosts = new Map<number, PrHost>();
  const host = (id: number): PrHost => hosts.get(id)!;
  const keys = async (): Promise<bigint[]> => (await host(1).transport.readKeys()).keys;
  const keysOf = async (id: number): Promise<bigint[]> => (await keys()).filter((k) => parseKey(UUID, k)?.hostId === id);

  beforeAll(async () => {
    scratch = scratchDir('ycs-istgt-');
    target = await startIstgt({ dir: scratch.dir });
    for (const id of [1, 2, 3]) {
      // Distinct ISIDs as well as names: one I_T nexus per host.
      hosts.set(id, await openPrHost({ url: target.url, initiatorIqn: `iqn.2026-12.io.ycs.test:istgt.host${id}`, isid: 0x400000000000n + BigInt(id), clusterUuid: UUID, hostId: id }));
    }
  });

  afterAll(async () => {
    await Promise.allSettled([...hosts.values()].map((h) => h.device.close()));
    await target?.stop();
    scratch?.remove();
  });

  it('registers three hosts and holds the master reservation (WERO)', async () => {
    for (const id of [1, 2, 3]) await host(id).driver.registerDevice(0, 4);
    expect([...(await keys())].sort()).toEqual([1, 2, 3].map((id) => reservationKey(UUID, id, 4)).sort());
    await host(1).driver.reserveDevice(0);
    expect((await host(2).transport.readReservation()).reservation).toEqual({ key: reservationKey(UUID, 1, 4), scope: 0, type: 5 });
  });

  it('fences with PREEMPT AND ABORT (which tgt lacks), verified; the victim is refused at once', async () => {
    const outcome = await host(1).driver.fence(3, { mayPreempt: (k) => preemptable(k, 5) });
    expect(outcome).toMatchObject({ kind: 'fenced', victimKeys: [reservationKey(UUID, 3, 4)], devices: [{ method: 'preempt-and-abort', verified: true }] });
    expect(await keysOf(3)).toEqual([]);
    // No UNIT ATTENTION first, unlike tgt: the very first write meets the conflict.
    expect((await rejection(host(3).device.write(8 << 20, Buffer.alloc(SECTOR, 3)))).code).toBe('E_RESERVATION_CONFLICT');
    await host(2).device.write(8 << 20, Buffer.alloc(SECTOR, 2));
  });

  it('refuses a fence of a victim registered for a newer epoch, removing nothing', async () => {
    const err = await rejection(host(1).driver.fence(2, { mayPreempt: (k) => preemptable(k, 4) }));
    expect(err.code).toBe('E_REFUSED');
    expect(await keysOf(2)).toEqual([reservationKey(UUID, 2, 4)]);
  });

  it('answers GOOD to a PREEMPT of a key nobody holds (tgt: RESERVATION CONFLICT), and removes nothing', async () => {
    const before = await keys();
    await host(1).transport.preempt(reservationKey(UUID, 1, 4), reservationKey(UUID, 2, 9), 5);
    expect(await keys()).toEqual(before);
  });

  it("changes another nexus's registration on REGISTER: the rekey check refuses the target", async () => {
    await host(3).driver.registerDevice(0, 5); // host 3 admitted again: the newest registration
    const err = await rejection(host(2).driver.rekeyDevice(0, 4, 5));
    expect(err.code).toBe('E_FENCE_FAILED');
    expect(err.message).toMatch(/did not replace this host's key 0x[0-9a-f]{16} on REGISTER .*persistent reservations on it cannot fence safely/);
    // What istgt did: host 2's old key stays, host 3's registration now carries host 2's new key.
    expect(await keysOf(2)).toEqual([reservationKey(UUID, 2, 4), reservationKey(UUID, 2, 5)]);
    expect(await keysOf(3)).toEqual([]);
  });
});
