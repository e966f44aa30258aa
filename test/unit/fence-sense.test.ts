// Sense data decoding (fixed and descriptor formats) and reservation keys.
import { describe, expect, it } from 'vitest';
import { ascName, decodeSense, describeSense, isUnitAttention, senseKeyName, statusName } from '../../src/fence/sense.js';
import { preemptable } from '../../src/core/key-epochs.js';
import { clusterKeyPrefix, hostIdOfKey, legacyReservationKey, parseKey, reservationKey } from '../../src/fence/keys.js';

const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

describe('sense data', () => {
  it('decodes fixed-format UNIT ATTENTION 2A/03 (what tgt sends to a preempted registrant)', () => {
    const sense = decodeSense(bytes('70 00 06 00 00 00 00 0a 00 00 00 00 2a 03 00 00 00 00'));
    expect(sense).toEqual({ format: 'fixed', responseCode: 0x70, key: 6, asc: 0x2a, ascq: 0x03 });
    expect(describeSense(sense!)).toBe('UNIT ATTENTION, Reservations preempted (06/2a/03)');
    expect(isUnitAttention(0x02, sense)).toBe(true);
    expect(isUnitAttention(0x18, sense)).toBe(false);
  });

  it('decodes fixed-format ILLEGAL REQUEST 24/00 with the field pointer into the CDB', () => {
    // tgt's answer to PREEMPT AND ABORT: invalid field in CDB, byte 1 (the service action).
    const sense = decodeSense(bytes('70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 c0 00 01'));
    expect(sense).toEqual({
      format: 'fixed', responseCode: 0x70, key: 5, asc: 0x24, ascq: 0, fieldPointer: { inCdb: true, byte: 1 },
    });
  });

  it('decodes a bit pointer when BPV is set', () => {
    const sense = decodeSense(bytes('70 00 05 00 00 00 00 0a 00 00 00 00 26 00 00 8b 00 14'));
    expect(sense?.fieldPointer).toEqual({ inCdb: false, byte: 20, bit: 3 });
  });

  it('decodes descriptor-format sense with a sense-key-specific descriptor', () => {
    const sense = decodeSense(bytes('72 05 24 00 00 00 00 08 02 06 00 00 c0 00 02 00'));
    expect(sense).toEqual({
      format: 'descriptor', responseCode: 0x72, key: 5, asc: 0x24, ascq: 0, fieldPointer: { inCdb: true, byte: 2 },
    });
  });

  it('decodes deferred errors (0x71, 0x73) and ignores unknown formats', () => {
    expect(decodeSense(bytes('71 00 06 00 00 00 00 0a 00 00 00 00 29 00'))?.responseCode).toBe(0x71);
    expect(decodeSense(bytes('73 06 2a 05 00 00 00 00'))).toMatchObject({ key: 6, asc: 0x2a, ascq: 5 });
    expect(decodeSense(bytes('00 00 00'))).toBeNull();
    expect(decodeSense(new Uint8Array())).toBeNull();
  });

  it('names statuses, sense keys and ASC/ASCQ pairs', () => {
    expect(statusName(0x18)).toBe('RESERVATION CONFLICT');
    expect(statusName(0x22)).toBe('status 0x22');
    expect(senseKeyName(5)).toBe('ILLEGAL REQUEST');
    expect(ascName(0x2a, 0x05)).toBe('Registrations preempted');
    expect(ascName(0x99, 0x01)).toBe('ASC 0x99 ASCQ 0x01');
  });
});

describe('reservation keys', () => {
  const uuid = '6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';

  it('is 4 bytes of SHA-256 over the label and the UUID, then the epoch (24 bits), then the host id', () => {
    // Computed independently with Python's hashlib:
    // sha256(b"ycs-pr-key-v2" + bytes.fromhex("6f1c2a7e3b4d4e5f8a9b0c1d2e3f4a5b"))[:4]
    expect(clusterKeyPrefix(uuid)).toBe(0x54879aaen);
    expect(reservationKey(uuid, 3)).toBe(0x54879aae00000003n);
    expect(reservationKey(uuid, 3, 0x123456)).toBe(0x54879aae12345603n);
    expect(reservationKey(uuid, 3, 0x1000001)).toBe(reservationKey(uuid, 3, 1)); // the epoch modulo 2^24
    expect(reservationKey(uuid.toUpperCase(), 3)).toBe(reservationKey(uuid.replace(/-/g, ''), 3));
  });

  it('parses back to host and epoch; v1 keys (6 bytes of SHA-256 over "ycs-pr-key-v1") have no epoch', () => {
    expect(parseKey(uuid, reservationKey(uuid, 9, 77))).toEqual({ hostId: 9, keyEpoch: 77 });
    // sha256(b"ycs-pr-key-v1" + bytes.fromhex("6f1c2a7e3b4d4e5f8a9b0c1d2e3f4a5b"))[:6]
    expect(legacyReservationKey(uuid, 3)).toBe(0xe41dd522207e0003n);
    expect(parseKey(uuid, 0xe41dd522207e0003n)).toEqual({ hostId: 3, keyEpoch: null });
    expect(() => reservationKey(uuid, 3, -1)).toThrow(/epoch must be a non-negative integer/);
  });

  it('a fence removes only keys of older epochs, across the 2^24 wrap', () => {
    expect(preemptable(4, 5)).toBe(true);
    expect(preemptable(5, 5)).toBe(false); // registered for the fence's own epoch: a member of it
    expect(preemptable(6, 5)).toBe(false); // a newer decision admitted the victim
    expect(preemptable(null, 1)).toBe(true); // a v1 key
    expect(preemptable(0xffffff, 2 ** 24 + 1)).toBe(true); // epoch 2^24 + 1 carries 1: 0xffffff is two older
    expect(preemptable(1, 2 ** 24 - 1)).toBe(false); // 1 after the wrap is newer than 2^24 - 1
  });

  it('is never 0 and differs per host and per cluster', () => {
    const keys = new Set<bigint>();
    for (let host = 1; host <= 255; host++) keys.add(reservationKey(uuid, host));
    expect(keys.size).toBe(255);
    expect(keys.has(0n)).toBe(false);
    expect(reservationKey('00000000-0000-0000-0000-000000000001', 1)).not.toBe(reservationKey(uuid, 1));
  });

  it('maps a key back to its host, and foreign keys to null', () => {
    expect(hostIdOfKey(uuid, reservationKey(uuid, 17))).toBe(17);
    expect(hostIdOfKey(uuid, reservationKey('00000000-0000-0000-0000-000000000001', 17))).toBeNull();
    expect(hostIdOfKey(uuid, 0x1234n)).toBeNull();
  });

  it('rejects bad host ids and UUIDs', () => {
    expect(() => reservationKey(uuid, 0)).toThrow(/1\.\.255/);
    expect(() => reservationKey(uuid, 256)).toThrow(/1\.\.255/);
    expect(() => reservationKey('not-a-uuid', 1)).toThrow(/not a cluster UUID/);
  });
});
