// The addon's sg_io_hdr builder (the same fill_sg_io_hdr sg_io_command uses), for tests that
// check the bytes ycs hands to SG_IO: test/unit/fence-native.test.ts, fence-sgpersist.test.ts.
import type { ScsiDirection } from '../../src/disk/device.js';
import { loadNative } from '../../src/native.js';

export interface SgIoHeader {
  interfaceId: number;
  dxferDirection: number;
  cmdLen: number;
  mxSbLen: number;
  dxferLen: number;
  timeoutMs: number;
  hasData: boolean;
  cdb: Buffer;
  sgIoRequest: number;
}

export function sgIoHeaderForTest(cdb: Uint8Array, direction: ScsiDirection, dataLength: number, timeoutMs: number): SgIoHeader {
  return loadNative<{ sgIoHeaderForTest: typeof sgIoHeaderForTest }>().sgIoHeaderForTest(cdb, direction, dataLength, timeoutMs);
}
