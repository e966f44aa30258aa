// SCSI status bytes and sense data (fixed 0x70/0x71 and descriptor 0x72/0x73 formats,
// SPC-4 4.5), with names for the conditions fencing meets. Used for every transport that
// returns raw SCSI results (SG_IO and libiscsi).

export const ScsiStatus = {
  good: 0x00,
  checkCondition: 0x02,
  conditionMet: 0x04,
  busy: 0x08,
  reservationConflict: 0x18,
  taskSetFull: 0x28,
  acaActive: 0x30,
  taskAborted: 0x40,
} as const;

const STATUS_NAMES: Record<number, string> = {
  0x00: 'GOOD',
  0x02: 'CHECK CONDITION',
  0x04: 'CONDITION MET',
  0x08: 'BUSY',
  0x18: 'RESERVATION CONFLICT',
  0x28: 'TASK SET FULL',
  0x30: 'ACA ACTIVE',
  0x40: 'TASK ABORTED',
};

export function statusName(status: number): string {
  return STATUS_NAMES[status] ?? `status 0x${status.toString(16).padStart(2, '0')}`;
}

export const SenseKey = {
  noSense: 0x0,
  recoveredError: 0x1,
  notReady: 0x2,
  mediumError: 0x3,
  hardwareError: 0x4,
  illegalRequest: 0x5,
  unitAttention: 0x6,
  dataProtect: 0x7,
  abortedCommand: 0xb,
} as const;

const SENSE_KEY_NAMES = [
  'NO SENSE', 'RECOVERED ERROR', 'NOT READY', 'MEDIUM ERROR', 'HARDWARE ERROR', 'ILLEGAL REQUEST',
  'UNIT ATTENTION', 'DATA PROTECT', 'BLANK CHECK', 'VENDOR SPECIFIC', 'COPY ABORTED', 'ABORTED COMMAND',
  'RESERVED', 'VOLUME OVERFLOW', 'MISCOMPARE', 'COMPLETED',
];

export function senseKeyName(key: number): string {
  return SENSE_KEY_NAMES[key & 0x0f] ?? `sense key ${key}`;
}

/** ASC/ASCQ pairs fencing and sector I/O meet (SPC-4 annex, names as sg3_utils prints them). */
const ASC_NAMES: Record<number, string> = {
  0x0000: 'No additional sense information',
  0x0400: 'Logical unit not ready, cause not reportable',
  0x0c00: 'Write error',
  0x1100: 'Unrecovered read error',
  0x1a00: 'Parameter list length error',
  0x2000: 'Invalid command operation code',
  0x2100: 'Logical block address out of range',
  0x2400: 'Invalid field in cdb',
  0x2500: 'Logical unit not supported',
  0x2600: 'Invalid field in parameter list',
  0x2700: 'Write protected',
  0x2900: 'Power on, reset, or bus device reset occurred',
  0x2901: 'Power on occurred',
  0x2907: 'I_T nexus loss occurred',
  0x2a01: 'Mode parameters changed',
  0x2a03: 'Reservations preempted',
  0x2a04: 'Reservations released',
  0x2a05: 'Registrations preempted',
  0x2a09: 'Capacity data has changed',
  0x2c00: 'Command sequence error',
  0x3a00: 'Medium not present',
  0x3f03: 'Inquiry data has changed',
  0x3f0e: 'Reported luns data has changed',
  0x4400: 'Internal target failure',
  0x5503: 'Insufficient resources',
  0x5504: 'Insufficient registration resources',
};

export function ascName(asc: number, ascq: number): string {
  const code = (asc << 8) | ascq;
  return ASC_NAMES[code] ?? `ASC 0x${hex2(asc)} ASCQ 0x${hex2(ascq)}`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

export interface SenseData {
  format: 'fixed' | 'descriptor';
  responseCode: number;
  key: number;
  asc: number;
  ascq: number;
  /** ILLEGAL REQUEST sense-key specific field pointer, when valid (SKSV). */
  fieldPointer?: { inCdb: boolean; byte: number; bit?: number };
}

function fieldPointer(b0: number, b1: number, b2: number): SenseData['fieldPointer'] {
  if ((b0 & 0x80) === 0) return undefined;
  const pointer: NonNullable<SenseData['fieldPointer']> = { inCdb: (b0 & 0x40) !== 0, byte: (b1 << 8) | b2 };
  if ((b0 & 0x08) !== 0) pointer.bit = b0 & 0x07;
  return pointer;
}

/** Decodes raw sense bytes; returns null for empty or unrecognised sense. */
export function decodeSense(sense: Uint8Array): SenseData | null {
  if (sense.length < 2) return null;
  const b = (i: number): number => sense[i] ?? 0;
  const responseCode = b(0) & 0x7f;
  if (responseCode === 0x70 || responseCode === 0x71) {
    const data: SenseData = { format: 'fixed', responseCode, key: b(2) & 0x0f, asc: b(12), ascq: b(13) };
    if (sense.length >= 18 && data.key === SenseKey.illegalRequest) {
      const pointer = fieldPointer(b(15), b(16), b(17));
      if (pointer) data.fieldPointer = pointer;
    }
    return data;
  }
  if (responseCode === 0x72 || responseCode === 0x73) {
    const data: SenseData = { format: 'descriptor', responseCode, key: b(1) & 0x0f, asc: b(2), ascq: b(3) };
    const end = Math.min(sense.length, 8 + b(7));
    for (let off = 8; off + 2 <= end; off += 2 + b(off + 1)) {
      if (b(off) === 0x02 && data.key === SenseKey.illegalRequest) {
        const pointer = fieldPointer(b(off + 4), b(off + 5), b(off + 6));
        if (pointer) data.fieldPointer = pointer;
      }
    }
    return data;
  }
  return null;
}

export function describeSense(sense: SenseData): string {
  return `${senseKeyName(sense.key)}, ${ascName(sense.asc, sense.ascq)} (${hex2(sense.key)}/${hex2(sense.asc)}/${hex2(sense.ascq)})`;
}

export function isUnitAttention(status: number, sense: SenseData | null): boolean {
  return status === ScsiStatus.checkCondition && sense?.key === SenseKey.unitAttention;
}
