import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/disk/crc32c.js';

describe('crc32c', () => {
  it('matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789', 'ascii'))).toBe(0xe3069283);
  });

  it('matches the RFC 3720 (iSCSI) appendix B.4 vectors', () => {
    const ascending = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    const descending = Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i));
    expect(crc32c(Buffer.alloc(32, 0x00))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(ascending)).toBe(0x46dd794e);
    expect(crc32c(descending)).toBe(0x113fdb5c);
  });

  it('is 0 for no data and continues a running checksum', () => {
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    const data = Buffer.from('the quick brown fox jumps over the lazy dog');
    const whole = crc32c(data);
    expect(crc32c(data.subarray(10), crc32c(data.subarray(0, 10)))).toBe(whole);
    expect(crc32c(data, 0, 0, 10)).toBe(crc32c(data.subarray(0, 10)));
  });

  it('changes on any single bit flip', () => {
    const data = Buffer.from('voting disk sector');
    const base = crc32c(data);
    for (let bit = 0; bit < data.length * 8; bit++) {
      const copy = Buffer.from(data);
      copy[bit >> 3]! ^= 1 << (bit & 7);
      expect(crc32c(copy)).not.toBe(base);
    }
  });
});
