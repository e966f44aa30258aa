// The campaign's storage checker (test/campaign/checker.ts) on hand-made LUN images: a clean
// history passes; each rule (a), (b), (c) and a torn record is caught.
import { describe, expect, it } from 'vitest';
import { checkStorage, parseAckLog, readRecords } from '../campaign/checker.js';
import { encodeRecord, type DataRecord } from '../campaign/record.js';

function lun(records: DataRecord[], sectors = 64): Buffer {
  const image = Buffer.alloc(sectors * 512);
  for (const r of records) encodeRecord(r).copy(image, r.lba * 512);
  return image;
}

const rec = (lba: number, epoch: number, host: number, seq: number, wallMs: number): DataRecord => ({ lba, epoch, host, seq, wallMs, pid: 100 + host });

describe('campaign storage checker', () => {
  const clean = [rec(10, 1, 1, 1, 1000), rec(11, 1, 1, 2, 1050), rec(20, 2, 2, 1, 2000), rec(21, 2, 2, 2, 2050)];

  it('passes a history with one writer per epoch, epochs in order, every ack present', () => {
    const { records, bad } = readRecords(lun(clean));
    const acked = parseAckLog('epoch=1 host=1 pid=101 seq=1 lba=10\nepoch=2 host=2 pid=102 seq=2 lba=21\n');
    expect(checkStorage(records, acked, bad)).toEqual({ records: 4, acked: 2, epochs: 2, violations: [] });
  });

  it('(a) an older epoch issued after the newer epoch started', () => {
    const { records } = readRecords(lun([...clean, rec(12, 1, 1, 3, 2010)]));
    expect(checkStorage(records, []).violations).toEqual([expect.stringMatching(/^\(a\) LBA 12: host 1 epoch 1 seq 3/)]);
  });

  it('(b) two hosts in one epoch', () => {
    const { records } = readRecords(lun([...clean, rec(30, 2, 3, 1, 2100)]));
    expect(checkStorage(records, []).violations).toEqual(['(b) epoch 2: writes of hosts 2 and 3 both landed']);
  });

  it('(c) an acknowledged write that is missing or overwritten', () => {
    const { records } = readRecords(lun(clean));
    const acked = parseAckLog('epoch=1 host=1 pid=101 seq=3 lba=12\nepoch=1 host=1 pid=101 seq=9 lba=11\n');
    expect(checkStorage(records, acked).violations).toEqual([
      expect.stringMatching(/^\(c\) .* seq 3 missing at LBA 12 \(found nothing\)/),
      expect.stringMatching(/^\(c\) .* seq 9 missing at LBA 11 \(found epoch 1 host 1 pid 101 seq 2\)/),
    ]);
  });

  it('a torn (bad CRC) or misplaced record', () => {
    const image = lun(clean);
    image.writeUInt8(image.readUInt8(10 * 512 + 9) ^ 0xff, 10 * 512 + 9);
    encodeRecord(rec(40, 3, 1, 1, 3000)).copy(image, 41 * 512);
    const { bad } = readRecords(image);
    expect(bad).toEqual(['LBA 10: CRC mismatch (torn or corrupt record)', 'LBA 41: record says LBA 40 (misplaced write)']);
  });
});
