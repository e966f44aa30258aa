// The one bounded NDJSON line splitter every socket reader uses (src/net/lines.ts).
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/net/lines.js';

describe('LineSplitter', () => {
  it('reassembles lines split across chunks and drops CR and empty lines', () => {
    const splitter = new LineSplitter(1024);
    expect(splitter.push('{"a":')).toEqual([]);
    expect(splitter.push('1}\r\n\n  \n{"b"')).toEqual(['{"a":1}']);
    expect(splitter.push(':2}\n')).toEqual(['{"b":2}']);
  });

  it('decodes a multi-byte character split across two Buffer chunks', () => {
    const splitter = new LineSplitter(1024);
    const bytes = Buffer.from('{"name":"é"}\n');
    const cut = bytes.indexOf(0xa9); // the second byte of é
    expect(splitter.push(bytes.subarray(0, cut))).toEqual([]);
    expect(splitter.push(bytes.subarray(cut))).toEqual(['{"name":"é"}']);
  });

  it('refuses a line longer than the bound, complete or not, with E_PROTOCOL naming it', () => {
    expect(() => new LineSplitter(8).push('123456789')).toThrow('line longer than 8 bytes');
    expect(() => new LineSplitter(8).push('123456789\nok\n')).toThrow(expect.objectContaining({ code: 'E_PROTOCOL' }));
    expect(new LineSplitter(8).push('12345678\n')).toEqual(['12345678']);
    // The bound is in bytes: 3 two-byte characters are 6 bytes.
    expect(() => new LineSplitter(5).push('ééé')).toThrow('line longer than 5 bytes');
  });
});
