// Fencing against a real iSCSI target: tgtd on 127.0.0.1 with a file-backed LUN and three
// initiators (three IQNs = three hosts), each doing its sector I/O and its persistent
// reservations over the same libiscsi session (SectorDevice on iscsi://).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeartbeatPayload, SlotRecord } from '../../src/core/types.js';
import { SectorDevice } from '../../src/disk/device.js';
import { initVotingDisk, VotingDisk } from '../../src/disk/voting-disk.js';
import { prInCdb, PrType } from '../../src/fence/cdb.js';
import { PrFenceDriver } from '../../src/fence/driver.js';
import { reservationKey } from '../../src/fence/keys.js';
import { decodeSense } from '../../src/fence/sense.js';
import { ScsiPrTransport } from '../../src/fence/transport.js';
import { scratchDir } from '../helpers/loop.js';
import { rejection } from '../helpers/rejection.js';
import { startTgtd, type Tgtd } from '../helpers/tgtd.js';

const SECTOR = 512;
/** Raw data I/O goes past the voting-disk layout (3 MiB) that fills the start of the LUN. */
const DATA = 8 << 20;
let clusterUuid = '';
const iqn = (host: number): string => `iqn.2026-11.io.ycs.test:host${host}`;

interface Host {
  id: number;
  disk: VotingDisk;
  device: SectorDevice;
  transport: ScsiPrTransport;
  driver: PrFenceDriver;
}

/** A raw WRITE(16) of one sector at LBA `lba`, so the test sees every status itself. */
function write16(lba: number): Uint8Array {
  const cdb = new Uint8Array(16);
  cdb[0] = 0x8a;
  cdb[1] = 0x08; // FUA
  new DataView(cdb.buffer).setBigUint64(2, BigInt(lba));
  new DataView(cdb.buffer).setUint32(10, 1);
  return cdb;
}

describe('fencing on an iSCSI LUN served by tgtd', () => {
  let scratch: { dir: string; remove(): void };
  let tgtd: Tgtd;
  const hosts: Host[] = [];
  const host = (id: number): Host => hosts[id - 1]!;

  async function openHost(id: number): Promise<Host> {
    const disk = await VotingDisk.open(tgtd.url(), { iscsiInitiatorIqn: iqn(id), ioTimeoutMs: 5000, expectedClusterUuid: clusterUuid });
    const device = disk.device; // PR and sector I/O share one session: one I_T nexus
    const transport = new ScsiPrTransport(device);
    const driver = new PrFenceDriver({ clusterUuid: clusterUuid, hostId: id, devices: [{ path: tgtd.url(), transport }] });
    return { id, disk, device, transport, driver };
  }

  beforeAll(async () => {
    scratch = scratchDir('ycs-fence-');
    tgtd = await startTgtd({ dir: scratch.dir });
    clusterUuid = (await initVotingDisk(tgtd.url(), { clusterName: 'fence-it', hostSlots: 3, iscsiInitiatorIqn: iqn(9) })).clusterUuid;
    for (const id of [1, 2, 3]) hosts.push(await openHost(id));
  });

  afterAll(async () => {
    await Promise.allSettled(hosts.map((h) => h.device.close()));
    await tgtd?.stop();
    scratch?.remove();
  });

  it('registers the three hosts with their derived keys', async () => {
    for (const h of hosts) await h.driver.register();
    const keys = await host(1).transport.readKeys();
    expect(keys.keys.sort()).toEqual([1, 2, 3].map((id) => reservationKey(clusterUuid, id)).sort());
    const caps = await host(1).transport.reportCapabilities();
    expect(caps.supportedTypes).toContain(PrType.writeExclusiveRegistrantsOnly);
  });

  it('the master holds a WERO reservation; registrants write, strangers are refused', async () => {
    await host(1).driver.reserveAsMaster();
    const { reservation } = await host(2).transport.readReservation();
    expect(reservation).toEqual({ key: reservationKey(clusterUuid, 1), scope: 0, type: 5 });
    await host(2).device.write(DATA, Buffer.alloc(SECTOR, 2));
    const stranger = await SectorDevice.open(tgtd.url(), { iscsiInitiatorIqn: iqn(9) });
    try {
      const err = await rejection(stranger.write(DATA, Buffer.alloc(SECTOR, 9)));
      expect(err.code).toBe('E_RESERVATION_CONFLICT');
      expect(await stranger.read(DATA, SECTOR)).toEqual(Buffer.alloc(SECTOR, 2)); // reads stay allowed
    } finally {
      await stranger.close();
    }
  });

  it('tgt rejects PREEMPT AND ABORT with ILLEGAL REQUEST, named in the error', async () => {
    const err = await rejection(
      host(1).transport.preemptAndAbort(reservationKey(clusterUuid, 1), reservationKey(clusterUuid, 3), 5),
    );
    expect(err.code).toBe('E_PR_UNSUPPORTED');
    expect(err.message).toMatch(/does not support PERSISTENT RESERVE OUT service action PREEMPT AND ABORT/);
    expect(err.message).toMatch(/ILLEGAL REQUEST, Invalid field in cdb \(05\/24\/00\)/);
  });

  it('fences host 3 with the PREEMPT fallback and verifies its key is gone', async () => {
    const steps: string[] = [];
    const outcome = await host(1).driver.fence(3, { onStep: (text) => steps.push(text) });
    expect(outcome).toMatchObject({
      kind: 'fenced', victimHost: 3, devices: [{ device: tgtd.url(), method: 'preempt', verified: true }],
    });
    // What ycsctl fence --device shows as its progress line, step by step.
    const prefix = `fencing host 3: device 1 of 1 (${tgtd.url()}): `;
    expect(steps).toEqual([
      `${prefix}reading keys`, `${prefix}preempt-and-abort`, `${prefix}preempt (the target has no PREEMPT AND ABORT)`, `${prefix}verifying the key is gone`,
    ]);
    const keys = await host(2).transport.readKeys();
    expect(keys.keys).not.toContain(reservationKey(clusterUuid, 3));
    expect(keys.keys).toHaveLength(2);
  });

  it("the fenced initiator's WRITE gets UNIT ATTENTION 2A/03, then RESERVATION CONFLICT", async () => {
    const first = await host(3).device.scsi(write16(DATA / SECTOR + 100), 'out', Buffer.alloc(SECTOR, 3), 5000);
    expect(first.status).toBe(0x02);
    expect(decodeSense(first.sense)).toMatchObject({ key: 6, asc: 0x2a, ascq: 0x03 });
    const second = await host(3).device.scsi(write16(DATA / SECTOR + 100), 'out', Buffer.alloc(SECTOR, 3), 5000);
    expect(second.status).toBe(0x18);
  });

  it("the fenced host's heartbeat writes are refused; the master's and host 2's are written", async () => {
    const beat = (hostId: number, sequence: number): SlotRecord<HeartbeatPayload> => ({
      hostId, incarnation: 1, sequence,
      payload: { role: hostId === 1 ? 'master' : 'standby', epoch: 1, masterId: 1, heard: [], resources: [], flags: 0 },
    });
    const refused = await rejection(host(3).disk.writeHeartbeat(beat(3, 7)));
    expect(refused.code).toBe('E_RESERVATION_CONFLICT');
    await host(1).disk.writeHeartbeat(beat(1, 7));
    await host(2).disk.writeHeartbeat(beat(2, 7));
    const slots = await host(3).disk.readHeartbeats(); // a fenced host still reads
    expect(slots.map((s) => (s.verdict === 'ok' ? s.record?.sequence : s.verdict))).toEqual([7, 7, 'empty']);
  });

  it("the fenced host's data writes are refused while the master's and host 2's succeed", async () => {
    const err = await rejection(host(3).device.write(DATA + 3 * SECTOR, Buffer.alloc(SECTOR, 3)));
    expect(err.code).toBe('E_RESERVATION_CONFLICT');
    expect(err.errno).toBe('EBADE');
    await host(1).device.write(DATA + 1 * SECTOR, Buffer.alloc(SECTOR, 1));
    await host(2).device.write(DATA + 2 * SECTOR, Buffer.alloc(SECTOR, 2));
    expect(await host(3).device.read(DATA, 4 * SECTOR)).toEqual(
      Buffer.concat([Buffer.alloc(SECTOR, 2), Buffer.alloc(SECTOR, 1), Buffer.alloc(SECTOR, 2), Buffer.alloc(SECTOR, 0)]),
    );
  });

  it('the status shows the standing read from the storage; a re-admitted host registers per device', async () => {
    expect((await host(3).driver.status()).state).toBe('unregistered'); // fenced: its key is gone
    expect((await host(1).driver.status()).state).toBe('master');
    await host(3).driver.registerDevice(0, 0); // the engine's `register` once a decision admits it again
    expect((await host(3).driver.status()).state).toBe('registered');
    expect((await host(1).transport.readKeys()).keys).toContain(reservationKey(clusterUuid, 3));
    await host(3).device.write(DATA + 3 * SECTOR, Buffer.alloc(SECTOR, 3));
    await host(1).driver.reserveDevice(0); // its own reservation: a no-op
    const refused = await rejection(host(2).driver.reserveDevice(0));
    expect(refused.code).toBe('E_REFUSED');
    expect(refused.message).toMatch(/held by host 1: fence it first/);
    expect((await rejection(host(2).driver.registerDevice(4, 0))).code).toBe('E_INVALID_ARGUMENT');
  });

  it('across an iSCSI reconnect: ECONNRESET, tgt forgets the session, the admitted host renews', async () => {
    expect(tgtd.dropConnections(iqn(2))).toBe(1);
    const reset = await rejection(host(2).device.write(DATA + 2 * SECTOR, Buffer.alloc(SECTOR, 0x22)));
    expect(reset.errno).toBe('ECONNRESET');
    // The new session (same IQN, same pinned ISID) lost the registration on tgt...
    const conflict = await rejection(host(2).device.write(DATA + 2 * SECTOR, Buffer.alloc(SECTOR, 0x22)));
    expect(conflict.code).toBe('E_RESERVATION_CONFLICT');
    // ...the key is still listed, so the admitted host re-registers the new session.
    expect(await host(2).driver.renewAfterSessionReset(tgtd.url())).toBe(true);
    await host(2).device.write(DATA + 2 * SECTOR, Buffer.alloc(SECTOR, 0x22));
    expect(tgtd.sessions().filter((s) => s.initiator === iqn(2))).toHaveLength(1);
  });

  it('the master renews across a reconnect and moves its reservation to the new session', async () => {
    tgtd.dropConnections(iqn(1));
    expect((await rejection(host(1).device.write(DATA + SECTOR, Buffer.alloc(SECTOR, 1)))).errno).toBe('ECONNRESET');
    expect(await host(1).driver.renewAfterSessionReset(tgtd.url())).toBe(true);
    await host(1).device.write(DATA + SECTOR, Buffer.alloc(SECTOR, 0x11));
    const key1 = reservationKey(clusterUuid, 1);
    expect((await host(2).transport.readReservation()).reservation).toMatchObject({ key: key1, type: 5 });
    // the stale registration of the old session was preempted with it: key 1 is listed once
    expect((await host(2).transport.readKeys()).keys.filter((k) => k === key1)).toHaveLength(1);
    await host(1).driver.releaseMaster(); // only the reservation's real holder can release
    expect((await host(2).transport.readReservation()).reservation).toBeNull();
    await host(1).driver.reserveAsMaster();
  });

  it('a fenced host that reconnects stays fenced', async () => {
    await host(1).driver.fence(2);
    tgtd.dropConnections(iqn(2));
    expect((await rejection(host(2).device.read(DATA, SECTOR))).errno).toBe('ECONNRESET');
    // its key is gone, so the renewal refuses: a fenced host never re-registers by itself
    expect((await rejection(host(2).driver.renewAfterSessionReset(tgtd.url()))).code).toBe('E_RESERVATION_CONFLICT');
    expect((await rejection(host(2).device.write(DATA + 2 * SECTOR, Buffer.alloc(SECTOR, 2)))).code).toBe('E_RESERVATION_CONFLICT');
    expect((await host(1).transport.readKeys()).keys).not.toContain(reservationKey(clusterUuid, 2));
  });

  it('PR commands retry the UNIT ATTENTION a preempted host gets first', async () => {
    await host(1).driver.fence(3);
    const statuses: number[] = [];
    const watched = new ScsiPrTransport({
      info: host(3).device.info,
      scsi: async (...args) => {
        const reply = await host(3).device.scsi(...args);
        statuses.push(reply.status);
        return reply;
      },
      blockPr: (request) => host(3).device.blockPr(request),
    });
    const keys = await watched.readKeys();
    expect(statuses).toEqual([0x02, 0x00]); // UNIT ATTENTION 2A/03, then GOOD
    expect(keys.keys).not.toContain(reservationKey(clusterUuid, 3));
  });

  it('an ISID of a reserved format is refused before login; a valid pinned ISID logs in', async () => {
    const refused = await rejection(SectorDevice.open(tgtd.url(), { iscsiInitiatorIqn: iqn(7), iscsiIsid: 0xc00000000001n }));
    expect(refused.message).toMatch(/ISID has a reserved format/);
    const pinned = await SectorDevice.open(tgtd.url(), { iscsiInitiatorIqn: iqn(7), iscsiIsid: 0x23d000000007n });
    try {
      expect(await pinned.read(DATA, SECTOR)).toHaveLength(SECTOR);
      expect(tgtd.sessions().filter((s) => s.initiator === iqn(7))).toHaveLength(1);
    } finally {
      await pinned.close();
    }
  });

  it('tgt answers READ FULL STATUS with ILLEGAL REQUEST, so status is built from READ KEYS and READ RESERVATION', async () => {
    const reply = await host(1).device.scsi(prInCdb('readFullStatus', 4096), 'in', 4096, 5000);
    expect(reply.status).toBe(0x02);
    expect(decodeSense(reply.sense)).toMatchObject({ key: 5, asc: 0x24 });
  });
});
