// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every record on
// the voting disk. Same polynomial as iSCSI, ext4 metadata and sanlock, so a sector can be
// checked with standard tools. Table-driven (one byte per step): a full heartbeat area of
// 255 records is ~130 KB, which this checks in well under a millisecond.

const CASTAGNOLI_REFLECTED = 0x82f63b78;

const TABLE: Uint32Array = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI_REFLECTED : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/**
 * CRC32C of `data[start, end)`. `previous` continues a running checksum
 * (crc32c(a ++ b) === crc32c(b, crc32c(a))).
 */
export function crc32c(data: Uint8Array, previous = 0, start = 0, end = data.length): number {
  let crc = ~previous >>> 0;
  for (let i = start; i < end; i++) {
    crc = (TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)) >>> 0;
  }
  return ~crc >>> 0;
}
