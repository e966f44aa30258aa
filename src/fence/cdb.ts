// SCSI-3 PERSISTENT RESERVE IN / OUT: CDBs, the 24-byte PR OUT parameter list and the
// PR IN responses, byte for byte as SPC-4 lays them out (also what sg3_utils' sg_persist,
// libiscsi and the kernel's sd_pr_out_command send). One codec for every transport:
// SG_IO and libiscsi both carry these raw bytes; the block-layer ioctls build their own.
import { YcsError } from '../errors.js';

export const PR_IN_OPCODE = 0x5e;
export const PR_OUT_OPCODE = 0x5f;
export const PR_CDB_LENGTH = 10;
export const PR_OUT_PARAMETER_LENGTH = 24;

export const PrInAction = {
  readKeys: 0x00,
  readReservation: 0x01,
  reportCapabilities: 0x02,
  readFullStatus: 0x03,
} as const;
export type PrInActionName = keyof typeof PrInAction;

export const PrOutAction = {
  register: 0x00,
  reserve: 0x01,
  release: 0x02,
  clear: 0x03,
  preempt: 0x04,
  preemptAndAbort: 0x05,
  registerAndIgnore: 0x06,
} as const;
export type PrOutActionName = keyof typeof PrOutAction;

/** SCSI reservation types (SPC-4 table "Persistent reservation type codes"). */
export const PrType = {
  writeExclusive: 1,
  exclusiveAccess: 3,
  writeExclusiveRegistrantsOnly: 5,
  exclusiveAccessRegistrantsOnly: 6,
  writeExclusiveAllRegistrants: 7,
  exclusiveAccessAllRegistrants: 8,
} as const;
export type PrTypeCode = (typeof PrType)[keyof typeof PrType];

const TYPE_NAMES: Record<number, string> = {
  1: 'Write Exclusive',
  3: 'Exclusive Access',
  5: 'Write Exclusive - Registrants Only',
  6: 'Exclusive Access - Registrants Only',
  7: 'Write Exclusive - All Registrants',
  8: 'Exclusive Access - All Registrants',
};

export function prTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/** Scope LU_SCOPE (0) is the only scope SPC-4 still defines. */
export const LU_SCOPE = 0;

const KEY_MAX = (1n << 64n) - 1n;

function assertKey(key: bigint, what: string): void {
  if (key < 0n || key > KEY_MAX) {
    throw new YcsError('E_INVALID_ARGUMENT', `${what} must be a 64-bit unsigned value, got ${key}`);
  }
}

export function prInCdb(action: PrInActionName, allocationLength: number): Uint8Array {
  if (!Number.isInteger(allocationLength) || allocationLength < 0 || allocationLength > 0xffff) {
    throw new YcsError('E_INVALID_ARGUMENT', `PR IN allocation length must be 0..65535, got ${allocationLength}`);
  }
  const cdb = new Uint8Array(PR_CDB_LENGTH);
  cdb[0] = PR_IN_OPCODE;
  cdb[1] = PrInAction[action] & 0x1f;
  cdb[7] = allocationLength >> 8;
  cdb[8] = allocationLength & 0xff;
  return cdb;
}

/** PR OUT CDB; the parameter list length goes in bytes 5..8 (be32), as the kernel writes it. */
export function prOutCdb(action: PrOutActionName, type: number = 0, scope: number = LU_SCOPE): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0x0f) {
    throw new YcsError('E_INVALID_ARGUMENT', `reservation type must be 0..15, got ${type}`);
  }
  const cdb = new Uint8Array(PR_CDB_LENGTH);
  cdb[0] = PR_OUT_OPCODE;
  cdb[1] = PrOutAction[action] & 0x1f;
  cdb[2] = ((scope & 0x0f) << 4) | type;
  new DataView(cdb.buffer).setUint32(5, PR_OUT_PARAMETER_LENGTH);
  return cdb;
}

export interface PrOutParameters {
  /** RESERVATION KEY: the key the issuing I_T nexus is registered with (0 if none). */
  reservationKey: bigint;
  /** SERVICE ACTION RESERVATION KEY: new key (register) or victim key (preempt). */
  serviceActionKey?: bigint;
  specifyInitiatorPorts?: boolean; // SPEC_I_PT 0x08
  allTargetPorts?: boolean; // ALL_TG_PT 0x04
  persistThroughPowerLoss?: boolean; // APTPL 0x01
}

export function prOutParameterList(p: PrOutParameters): Uint8Array {
  const sa = p.serviceActionKey ?? 0n;
  assertKey(p.reservationKey, 'reservation key');
  assertKey(sa, 'service action reservation key');
  const list = new Uint8Array(PR_OUT_PARAMETER_LENGTH);
  const view = new DataView(list.buffer);
  view.setBigUint64(0, p.reservationKey);
  view.setBigUint64(8, sa);
  list[20] =
    (p.specifyInitiatorPorts ? 0x08 : 0) | (p.allTargetPorts ? 0x04 : 0) | (p.persistThroughPowerLoss ? 0x01 : 0);
  return list;
}

/** A complete PR OUT command: CDB plus the data-out parameter list. */
export interface PrOutCommand {
  cdb: Uint8Array;
  parameters: Uint8Array;
}

export function prOutCommand(action: PrOutActionName, type: number, params: PrOutParameters): PrOutCommand {
  return { cdb: prOutCdb(action, type), parameters: prOutParameterList(params) };
}

// ---------- PR IN responses ----------

function header(data: Uint8Array, what: string): { generation: number; additionalLength: number; view: DataView } {
  if (data.length < 8) {
    throw new YcsError('E_SCSI', `${what} response too short: ${data.length} bytes, need at least 8`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { generation: view.getUint32(0), additionalLength: view.getUint32(4), view };
}

export interface ReadKeysResult {
  generation: number;
  keys: bigint[];
  /** True when the allocation length cut the list short (additional length says more). */
  truncated: boolean;
}

export function decodeReadKeys(data: Uint8Array): ReadKeysResult {
  const { generation, additionalLength, view } = header(data, 'READ KEYS');
  const available = Math.min(additionalLength, data.length - 8);
  const keys: bigint[] = [];
  for (let off = 8; off + 8 <= 8 + available; off += 8) keys.push(view.getBigUint64(off));
  return { generation, keys, truncated: additionalLength > data.length - 8 };
}

export interface Reservation {
  key: bigint;
  scope: number;
  type: number;
}

export interface ReadReservationResult {
  generation: number;
  reservation: Reservation | null;
}

export function decodeReadReservation(data: Uint8Array): ReadReservationResult {
  const { generation, additionalLength, view } = header(data, 'READ RESERVATION');
  if (additionalLength === 0) return { generation, reservation: null };
  if (additionalLength < 0x10 || data.length < 24) {
    throw new YcsError('E_SCSI', `READ RESERVATION: reservation descriptor truncated (additional length ${additionalLength}, ${data.length} bytes)`);
  }
  const scopeType = data[21] ?? 0;
  return { generation, reservation: { key: view.getBigUint64(8), scope: scopeType >> 4, type: scopeType & 0x0f } };
}

export interface Capabilities {
  compatibleReservationHandling: boolean; // CRH
  specifyInitiatorPortsCapable: boolean; // SIP_C
  allTargetPortsCapable: boolean; // ATP_C
  persistThroughPowerLossCapable: boolean; // PTPL_C
  typeMaskValid: boolean; // TMV
  allowCommands: number; // ALLOW COMMANDS field (bits 6..4 of byte 3)
  persistThroughPowerLossActivated: boolean; // PTPL_A
  /** SCSI type codes the device supports (only meaningful when typeMaskValid). */
  supportedTypes: number[];
}

export function decodeReportCapabilities(data: Uint8Array): Capabilities {
  if (data.length < 8) {
    throw new YcsError('E_SCSI', `REPORT CAPABILITIES response too short: ${data.length} bytes, need 8`);
  }
  const b2 = data[2] ?? 0;
  const b3 = data[3] ?? 0;
  const b4 = data[4] ?? 0;
  const b5 = data[5] ?? 0;
  const mask: Array<[number, boolean]> = [
    [PrType.writeExclusive, (b4 & 0x02) !== 0],
    [PrType.exclusiveAccess, (b4 & 0x08) !== 0],
    [PrType.writeExclusiveRegistrantsOnly, (b4 & 0x20) !== 0],
    [PrType.exclusiveAccessRegistrantsOnly, (b4 & 0x40) !== 0],
    [PrType.writeExclusiveAllRegistrants, (b4 & 0x80) !== 0],
    [PrType.exclusiveAccessAllRegistrants, (b5 & 0x01) !== 0],
  ];
  return {
    compatibleReservationHandling: (b2 & 0x10) !== 0,
    specifyInitiatorPortsCapable: (b2 & 0x08) !== 0,
    allTargetPortsCapable: (b2 & 0x04) !== 0,
    persistThroughPowerLossCapable: (b2 & 0x01) !== 0,
    typeMaskValid: (b3 & 0x80) !== 0,
    allowCommands: (b3 >> 4) & 0x07,
    persistThroughPowerLossActivated: (b3 & 0x01) !== 0,
    supportedTypes: mask.filter(([, on]) => on).map(([t]) => t),
  };
}

export interface TransportId {
  protocolId: number; // 5 = iSCSI, 0 = FC, 6 = SAS, ...
  formatCode: number;
  /** iSCSI: the initiator name; format 1 also carries the ISID. */
  iscsiName?: string;
  isid?: string;
  raw: Uint8Array;
}

export interface FullStatusEntry {
  key: bigint;
  allTargetPorts: boolean;
  reservationHolder: boolean;
  scope: number;
  type: number;
  relativeTargetPortId: number;
  transportId: TransportId;
}

export interface ReadFullStatusResult {
  generation: number;
  entries: FullStatusEntry[];
  truncated: boolean;
}

export function decodeTransportId(raw: Uint8Array): TransportId {
  const protocolId = (raw[0] ?? 0) & 0x0f;
  const formatCode = ((raw[0] ?? 0) >> 6) & 0x03;
  const id: TransportId = { protocolId, formatCode, raw };
  if (protocolId === 5 && raw.length >= 4) {
    const length = ((raw[2] ?? 0) << 8) | (raw[3] ?? 0);
    const text = new TextDecoder().decode(raw.subarray(4, 4 + length)).replace(/\0.*$/s, '');
    if (formatCode === 1) {
      const [name, isid] = text.split(',i,');
      id.iscsiName = name;
      if (isid !== undefined) id.isid = isid;
    } else {
      id.iscsiName = text;
    }
  }
  return id;
}

export function decodeReadFullStatus(data: Uint8Array): ReadFullStatusResult {
  const { generation, additionalLength, view } = header(data, 'READ FULL STATUS');
  const end = Math.min(8 + additionalLength, data.length);
  const entries: FullStatusEntry[] = [];
  let off = 8;
  while (off + 24 <= end) {
    const idLength = view.getUint32(off + 20);
    if (off + 24 + idLength > end) break;
    entries.push({
      key: view.getBigUint64(off),
      allTargetPorts: ((data[off + 12] ?? 0) & 0x02) !== 0,
      reservationHolder: ((data[off + 12] ?? 0) & 0x01) !== 0,
      scope: (data[off + 13] ?? 0) >> 4,
      type: (data[off + 13] ?? 0) & 0x0f,
      relativeTargetPortId: view.getUint16(off + 18),
      transportId: decodeTransportId(data.slice(off + 24, off + 24 + idLength)),
    });
    off += 24 + idLength;
  }
  return { generation, entries, truncated: 8 + additionalLength > data.length };
}

/** Keys print as 16 hex digits, the way sg_persist shows them. */
export function formatKey(key: bigint): string {
  return `0x${key.toString(16).padStart(16, '0')}`;
}
