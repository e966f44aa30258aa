// What the SG_IO and IOC_PR_* paths hand to the kernel, byte for byte. This machine has
// no SCSI or NVMe device, so the native code exposes its request builders (the same
// functions sg_io_command, block_pr_ioctl and the PR read ioctls use) and these tests
// drive the real TS transports into them.
import { describe, expect, it } from 'vitest';
import type { BlockPrRequest, ScsiDirection, ScsiReply } from '../../src/disk/device.js';
import { prInCdb, prOutCommand } from '../../src/fence/cdb.js';
import { loadNative } from '../../src/native.js';
import { sgIoHeaderForTest, type SgIoHeader } from '../helpers/sg-io.js';
import {
  BlockPrTransport,
  blockPrType,
  type PrDevice,
  PR_FL_IGNORE_KEY,
  PR_KEYS_MAX,
  ScsiPrTransport,
  scsiPrTypeOfBlock,
  transportKindFor,
} from '../../src/fence/transport.js';

interface ReadIoctl {
  request: number;
  size: number;
  offsets: Record<string, number>;
  arg: Buffer;
}

interface ScsiNative {
  blockPrIoctlForTest(request: Required<BlockPrRequest>): { request: number; arg: Buffer };
  prReadIoctlsForTest(capacity: number, keysPtr: bigint): { readKeys: ReadIoctl & { maxKeys: number }; readReservation: ReadIoctl };
}

const native = loadNative<ScsiNative>();
const SG_DXFER_NONE = -1;
const SG_DXFER_TO_DEV = -2;
const SG_DXFER_FROM_DEV = -3;

const le64 = (v: bigint): string => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b.toString('hex');
};
const le32 = (v: number): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b.toString('hex');
};

describe('sg_io_hdr built for SG_IO', () => {
  it('PR IN: direction FROM_DEV, 10-byte CDB, 64-byte sense buffer, the allocation length', () => {
    const cdb = prInCdb('readKeys', 4096);
    const hdr = sgIoHeaderForTest(cdb, 'in', 4096, 5000);
    expect(hdr).toMatchObject({
      interfaceId: 'S'.charCodeAt(0), dxferDirection: SG_DXFER_FROM_DEV, cmdLen: 10, mxSbLen: 64,
      dxferLen: 4096, timeoutMs: 5000, hasData: true, sgIoRequest: 0x2285,
    });
    expect(hdr.cdb.toString('hex')).toBe('5e000000000000100000');
  });

  it('PR OUT: direction TO_DEV with the 24-byte parameter list', () => {
    const command = prOutCommand('preempt', 5, { reservationKey: 1n, serviceActionKey: 2n });
    const hdr = sgIoHeaderForTest(command.cdb, 'out', command.parameters.length, 3000);
    expect(hdr).toMatchObject({ dxferDirection: SG_DXFER_TO_DEV, dxferLen: 24, timeoutMs: 3000, hasData: true });
    expect(hdr.cdb.toString('hex')).toBe('5f040500000000001800');
  });

  it('no data: direction NONE, no buffer, length 0', () => {
    const hdr = sgIoHeaderForTest(new Uint8Array(6), 'none', 512, 1000);
    expect(hdr).toMatchObject({ dxferDirection: SG_DXFER_NONE, dxferLen: 0, hasData: false, cmdLen: 6 });
  });
});

/** A PrDevice that hands each request to the native builders and answers GOOD. */
class RecordingDevice implements PrDevice {
  readonly info = { path: '/dev/sdz' };
  readonly sent: Array<{ hdr?: SgIoHeader; data?: Buffer; ioctl?: { request: number; arg: Buffer } }> = [];
  constructor(private readonly dataIn: Buffer = Buffer.from('0000000100000008000000000000abcd', 'hex')) {}

  async scsi(cdb: Uint8Array, direction: ScsiDirection, data: Uint8Array | number, timeoutMs: number): Promise<ScsiReply> {
    const length = typeof data === 'number' ? data : data.length;
    const hdr = sgIoHeaderForTest(cdb, direction, length, timeoutMs);
    this.sent.push({ hdr, ...(typeof data === 'number' ? {} : { data: Buffer.from(data) }) });
    return { osErrno: 0, status: 0, hostStatus: 0, sense: Buffer.alloc(0), data: direction === 'in' ? this.dataIn : Buffer.alloc(0) };
  }

  async blockPr(request: BlockPrRequest): Promise<number> {
    const full = { oldKey: 0n, newKey: 0n, type: 0, flags: 0, ...request };
    this.sent.push({ ioctl: native.blockPrIoctlForTest(full) });
    return 0;
  }
}

describe('the SCSI transport sends the codec bytes', () => {
  it('READ KEYS and PREEMPT go out as CDB + parameter list', async () => {
    const dev = new RecordingDevice();
    const transport = new ScsiPrTransport(dev);
    expect((await transport.readKeys()).keys).toEqual([0xabcdn]);
    await transport.preempt(0x0aaan, 0x0bbbn, 5);
    expect(dev.sent[0]?.hdr?.cdb.toString('hex')).toBe('5e000000000000100000');
    expect(dev.sent[1]?.hdr?.cdb.toString('hex')).toBe('5f040500000000001800');
    expect(dev.sent[1]?.data?.toString('hex')).toBe(`${'0'.repeat(13)}aaa${'0'.repeat(13)}bbb${'0'.repeat(16)}`);
  });
});

describe('IOC_PR_* requests', () => {
  it.each([
    ['registerAndIgnore', 0x401870c8, `${le64(0n)}${le64(0x1112131415161718n)}${le32(PR_FL_IGNORE_KEY)}${le32(0)}`],
    ['reserve', 0x401070c9, `${le64(0x0102030405060708n)}${le32(3)}${le32(0)}`],
    ['release', 0x401070ca, `${le64(0x0102030405060708n)}${le32(3)}${le32(0)}`],
    ['preempt', 0x401870cb, `${le64(0x0102030405060708n)}${le64(0x1112131415161718n)}${le32(3)}${le32(0)}`],
    ['preemptAndAbort', 0x401870cc, `${le64(0x0102030405060708n)}${le64(0x1112131415161718n)}${le32(3)}${le32(0)}`],
    ['clear', 0x401070cd, `${le64(0x0102030405060708n)}${le32(0)}${le32(0)}`],
  ] as const)('%s: ioctl 0x%s and its struct', async (method, request, arg) => {
    const dev = new RecordingDevice();
    const t = new BlockPrTransport(dev);
    const own = 0x0102030405060708n;
    const other = 0x1112131415161718n;
    if (method === 'registerAndIgnore') await t.registerAndIgnore(other);
    else if (method === 'clear') await t.clear(own);
    else if (method === 'reserve' || method === 'release') await t[method](own, 5);
    else await t[method](own, other, 5);
    expect(dev.sent[0]?.ioctl?.request).toBe(request);
    expect(dev.sent[0]?.ioctl?.arg.toString('hex')).toBe(arg);
  });

  it('REGISTER carries the current and the new key', async () => {
    const dev = new RecordingDevice();
    await new BlockPrTransport(dev).register(0x5n, 0x6n);
    expect(dev.sent[0]?.ioctl?.arg.toString('hex')).toBe(`${le64(5n)}${le64(6n)}${le32(0)}${le32(0)}`);
  });

  it('converts SCSI type codes to the block layer numbering and back', () => {
    expect([1, 3, 5, 6, 7, 8].map(blockPrType)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => blockPrType(2)).toThrow(/no block-layer PR type/);
    expect([1, 2, 3, 4, 5, 6].map(scsiPrTypeOfBlock)).toEqual([1, 3, 5, 6, 7, 8]);
    expect(scsiPrTypeOfBlock(0)).toBeUndefined();
  });
});

// include/uapi/linux/pr.h from Linux 6.19 ("block: add IOC_PR_READ_KEYS ioctl",
// "block: add IOC_PR_READ_RESERVATION ioctl"; PR_KEYS_MAX from the later num_keys fix):
//   struct pr_read_keys { __u32 generation; __u32 num_keys; __u64 keys_ptr; };
//   struct pr_read_reservation { __u64 key; __u32 generation; __u32 type; };
//   #define IOC_PR_READ_KEYS        _IOWR('p', 206, struct pr_read_keys)
//   #define IOC_PR_READ_RESERVATION _IOR('p', 207, struct pr_read_reservation)
// The addon defines them itself when the system headers predate them.
describe('IOC_PR_* read requests', () => {
  const ioc = (dir: number, nr: number, size: number): number => ((dir << 30) | (size << 16) | ('p'.charCodeAt(0) << 8) | nr) >>> 0;
  const IOC_READ = 2;
  const IOC_WRITE = 1;
  const { readKeys, readReservation } = native.prReadIoctlsForTest(300, 0x00007f0012345678n);

  it('IOC_PR_READ_KEYS is _IOWR(p, 206, 16 bytes) = 0xc01070ce', () => {
    expect(readKeys.request).toBe(ioc(IOC_READ | IOC_WRITE, 206, 16));
    expect(readKeys.request).toBe(0xc01070ce);
  });

  it('IOC_PR_READ_RESERVATION is _IOR(p, 207, 16 bytes) = 0x801070cf', () => {
    expect(readReservation.request).toBe(ioc(IOC_READ, 207, 16));
    expect(readReservation.request).toBe(0x801070cf);
  });

  it('struct pr_read_keys: generation@0, num_keys@4, keys_ptr@8, 16 bytes, filled with the capacity and the key buffer', () => {
    expect(readKeys.size).toBe(16);
    expect(readKeys.offsets).toEqual({ generation: 0, numKeys: 4, keysPtr: 8 });
    expect(readKeys.arg.toString('hex')).toBe(`${le32(0)}${le32(300)}${le64(0x00007f0012345678n)}`);
    expect(readKeys.maxKeys).toBe(PR_KEYS_MAX);
  });

  it('struct pr_read_reservation: key@0, generation@8, type@12, 16 bytes, zeroed before the call', () => {
    expect(readReservation.size).toBe(16);
    expect(readReservation.offsets).toEqual({ key: 0, generation: 8, type: 12 });
    expect(readReservation.arg.toString('hex')).toBe('00'.repeat(16));
  });
});

describe('transport selection by device path', () => {
  it.each([
    ['iscsi://10.0.0.1:3260/iqn.2001-05.com.example:disk/1', 'scsi'],
    ['/dev/sdb', 'scsi'],
    ['/dev/sg3', 'scsi'],
    ['/dev/mapper/mpatha', 'scsi'],
    ['/dev/dm-4', 'scsi'],
    ['/dev/nvme0n1', 'block-pr'],
    ['/dev/loop7', 'block-pr'],
    ['/var/lib/ycs/disk.img', 'none'],
  ])('%s -> %s', (path, kind) => {
    expect(transportKindFor(path)).toBe(kind);
  });
});
