// Byte-for-byte checks of the PR IN / PR OUT codec against the SPC-4 layouts (and the
// bytes sg_persist, libiscsi and the kernel send), plus the responses tgt returned.
import { describe, expect, it } from 'vitest';
import {
  decodeReadFullStatus,
  decodeReadKeys,
  decodeReadReservation,
  decodeReportCapabilities,
  decodeTransportId,
  formatKey,
  prInCdb,
  prOutCdb,
  prOutCommand,
  prOutParameterList,
  PrType,
  prTypeName,
} from '../../src/fence/cdb.js';
import { isYcsError } from '../../src/errors.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').replace(/(..)(?!$)/g, '$1 ');
const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

describe('PR IN CDBs', () => {
  it.each([
    ['readKeys', '5e 00 00 00 00 00 00 10 00 00'],
    ['readReservation', '5e 01 00 00 00 00 00 10 00 00'],
    ['reportCapabilities', '5e 02 00 00 00 00 00 10 00 00'],
    ['readFullStatus', '5e 03 00 00 00 00 00 10 00 00'],
  ] as const)('%s with allocation length 4096', (action, expected) => {
    expect(hex(prInCdb(action, 4096))).toBe(expected);
  });

  it('puts the allocation length big-endian in bytes 7..8', () => {
    expect(hex(prInCdb('readKeys', 0x1234))).toBe('5e 00 00 00 00 00 00 12 34 00');
    expect(hex(prInCdb('readKeys', 0xffff))).toBe('5e 00 00 00 00 00 00 ff ff 00');
  });

  it('rejects an allocation length that does not fit 16 bits', () => {
    expect(() => prInCdb('readKeys', 0x10000)).toThrow(/0\.\.65535/);
    expect(() => prInCdb('readKeys', -1)).toThrow();
  });
});

describe('PR OUT CDBs', () => {
  it.each([
    ['register', 0, '5f 00 00 00 00 00 00 00 18 00'],
    ['reserve', 5, '5f 01 05 00 00 00 00 00 18 00'],
    ['release', 5, '5f 02 05 00 00 00 00 00 18 00'],
    ['clear', 0, '5f 03 00 00 00 00 00 00 18 00'],
    ['preempt', 5, '5f 04 05 00 00 00 00 00 18 00'],
    ['preemptAndAbort', 5, '5f 05 05 00 00 00 00 00 18 00'],
    ['registerAndIgnore', 0, '5f 06 00 00 00 00 00 00 18 00'],
  ] as const)('%s type %d', (action, type, expected) => {
    expect(hex(prOutCdb(action, type))).toBe(expected);
  });

  it('puts scope in the high nibble of byte 2', () => {
    expect(prOutCdb('reserve', PrType.exclusiveAccessAllRegistrants, 2)[2]).toBe(0x28);
  });

  it('rejects a type outside the 4-bit field', () => {
    expect(() => prOutCdb('reserve', 16)).toThrow(/0\.\.15/);
  });
});

describe('PR OUT parameter list', () => {
  it('is 24 bytes: key, service action key, flags in byte 20', () => {
    const list = prOutParameterList({ reservationKey: 0x0102030405060708n, serviceActionKey: 0xaaaaaaaaaaaaaaa1n });
    expect(hex(list)).toBe('01 02 03 04 05 06 07 08 aa aa aa aa aa aa aa a1 00 00 00 00 00 00 00 00');
  });

  it('encodes SPEC_I_PT 0x08, ALL_TG_PT 0x04 and APTPL 0x01 in byte 20', () => {
    expect(prOutParameterList({ reservationKey: 0n, specifyInitiatorPorts: true })[20]).toBe(0x08);
    expect(prOutParameterList({ reservationKey: 0n, allTargetPorts: true })[20]).toBe(0x04);
    expect(prOutParameterList({ reservationKey: 0n, persistThroughPowerLoss: true })[20]).toBe(0x01);
    const all = prOutParameterList({
      reservationKey: 0n, specifyInitiatorPorts: true, allTargetPorts: true, persistThroughPowerLoss: true,
    });
    expect(all[20]).toBe(0x0d);
  });

  it('register and preempt commands carry the right keys', () => {
    const register = prOutCommand('registerAndIgnore', 0, { reservationKey: 0n, serviceActionKey: 0x11n });
    expect(hex(register.cdb)).toBe('5f 06 00 00 00 00 00 00 18 00');
    expect(hex(register.parameters.subarray(0, 16))).toBe('00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 11');
    const preempt = prOutCommand('preempt', 5, { reservationKey: 0x22n, serviceActionKey: 0x33n });
    expect(hex(preempt.parameters.subarray(0, 16))).toBe('00 00 00 00 00 00 00 22 00 00 00 00 00 00 00 33');
  });

  it('rejects keys outside 64 bits', () => {
    expect(() => prOutParameterList({ reservationKey: 1n << 64n })).toThrow(/64-bit/);
    let caught: unknown;
    try {
      prOutParameterList({ reservationKey: -1n });
    } catch (err) {
      caught = err;
    }
    expect(isYcsError(caught, 'E_INVALID_ARGUMENT')).toBe(true);
  });
});

describe('PR IN responses', () => {
  it('decodes READ KEYS', () => {
    const data = bytes('00 00 00 4b 00 00 00 10 aa aa aa aa aa aa aa a1 bb bb bb bb bb bb bb b2');
    expect(decodeReadKeys(data)).toEqual({ generation: 0x4b, keys: [0xaaaaaaaaaaaaaaa1n, 0xbbbbbbbbbbbbbbb2n], truncated: false });
  });

  it('reports a READ KEYS list cut short by the allocation length', () => {
    const data = bytes('00 00 00 07 00 00 00 18 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 02');
    const result = decodeReadKeys(data);
    expect(result.keys).toEqual([1n, 2n]);
    expect(result.truncated).toBe(true);
  });

  it('decodes an empty READ KEYS list', () => {
    expect(decodeReadKeys(bytes('00 00 00 02 00 00 00 00'))).toEqual({ generation: 2, keys: [], truncated: false });
  });

  it('decodes the READ RESERVATION bytes tgt returned', () => {
    const data = bytes('00 00 00 4b 00 00 00 10 aa aa aa aa aa aa aa a1 00 00 00 00 00 05 00 00');
    expect(decodeReadReservation(data)).toEqual({
      generation: 0x4b,
      reservation: { key: 0xaaaaaaaaaaaaaaa1n, scope: 0, type: 5 },
    });
  });

  it('decodes READ RESERVATION with no reservation', () => {
    expect(decodeReadReservation(bytes('00 00 00 09 00 00 00 00'))).toEqual({ generation: 9, reservation: null });
  });

  it('refuses a short response', () => {
    expect(() => decodeReadKeys(bytes('00 00 00'))).toThrow(/too short/);
    expect(() => decodeReadReservation(bytes('00 00 00 01 00 00 00 10 aa'))).toThrow(/truncated/);
  });

  it('decodes the REPORT CAPABILITIES bytes tgt returned', () => {
    const caps = decodeReportCapabilities(bytes('00 08 00 80 ea 01 00 00'));
    expect(caps.typeMaskValid).toBe(true);
    expect(caps.compatibleReservationHandling).toBe(false);
    expect(caps.persistThroughPowerLossCapable).toBe(false);
    expect(caps.supportedTypes).toEqual([1, 3, 5, 6, 7, 8]);
  });

  it('decodes every REPORT CAPABILITIES flag', () => {
    const caps = decodeReportCapabilities(bytes('00 08 1d b1 22 00 00 00'));
    expect(caps).toEqual({
      compatibleReservationHandling: true,
      specifyInitiatorPortsCapable: true,
      allTargetPortsCapable: true,
      persistThroughPowerLossCapable: true,
      typeMaskValid: true,
      allowCommands: 3,
      persistThroughPowerLossActivated: true,
      supportedTypes: [1, 5],
    });
  });

  it('decodes READ FULL STATUS with iSCSI transport ids', () => {
    const name = Buffer.from('iqn.2026-01.test:h1,i,0x23d000000001\0\0\0\0');
    const descriptor = (key: string, flags: number, scopeType: number): Buffer => {
      const fixed = Buffer.alloc(24);
      Buffer.from(key, 'hex').copy(fixed, 0);
      fixed[12] = flags;
      fixed[13] = scopeType;
      fixed.writeUInt16BE(1, 18);
      fixed.writeUInt32BE(4 + name.length, 20);
      const tid = Buffer.concat([Buffer.from([0x45, 0, 0, name.length]), name]);
      return Buffer.concat([fixed, tid]);
    };
    const body = Buffer.concat([descriptor('00000000000000a1', 0x01, 0x05), descriptor('00000000000000b2', 0, 0)]);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(7, 0);
    head.writeUInt32BE(body.length, 4);
    const status = decodeReadFullStatus(Buffer.concat([head, body]));
    expect(status.generation).toBe(7);
    expect(status.truncated).toBe(false);
    expect(status.entries).toHaveLength(2);
    expect(status.entries[0]).toMatchObject({ key: 0xa1n, reservationHolder: true, type: 5, relativeTargetPortId: 1 });
    expect(status.entries[0]?.transportId).toMatchObject({ protocolId: 5, formatCode: 1, iscsiName: 'iqn.2026-01.test:h1', isid: '0x23d000000001' });
    expect(status.entries[1]).toMatchObject({ key: 0xb2n, reservationHolder: false, type: 0 });
  });

  it('decodes a format-0 iSCSI transport id', () => {
    const name = Buffer.from('iqn.x:y\0');
    const tid = decodeTransportId(Buffer.concat([Buffer.from([0x05, 0, 0, name.length]), name]));
    expect(tid).toMatchObject({ protocolId: 5, formatCode: 0, iscsiName: 'iqn.x:y' });
    expect(tid.isid).toBeUndefined();
  });
});

describe('names', () => {
  it('formats keys and types', () => {
    expect(formatKey(0xa1n)).toBe('0x00000000000000a1');
    expect(prTypeName(5)).toBe('Write Exclusive - Registrants Only');
    expect(prTypeName(2)).toBe('type 2');
  });
});
