import { createHmac } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NetHeartbeat } from '../../src/core/types.js';
import { isYcsError } from '../../src/errors.js';
import {
  HEADER_BYTES,
  MAC_BYTES,
  clusterIdFromName,
  decodeHeartbeat,
  encodeHeartbeat,
} from '../../src/net/codec.js';
import { loadClusterKey, writeClusterKey } from '../../src/net/key.js';
import { REPLAY_WINDOW, ReplayGuard } from '../../src/net/replay.js';
import { scratchDir } from '../helpers/loop.js';

const key = Buffer.alloc(32, 7);
const clusterId = clusterIdFromName('demo');
const message: NetHeartbeat = {
  from: 2,
  incarnation: 9,
  sequence: 1234567890123,
  role: 'master',
  epoch: 17,
  masterId: 2,
  heard: [1, 3, 200],
};

describe('heartbeat codec', () => {
  it('round-trips every field', () => {
    const packet = encodeHeartbeat({ clusterId, to: 3, message }, key);
    expect(packet.length).toBe(HEADER_BYTES + 3 + MAC_BYTES);
    const decoded = decodeHeartbeat(packet, key, clusterId);
    expect(decoded).toEqual({ ok: true, value: { clusterId, to: 3, message } });
  });

  it('sorts and deduplicates the heard list', () => {
    const packet = encodeHeartbeat({ clusterId, to: 1, message: { ...message, heard: [5, 3, 5] } }, key);
    const decoded = decodeHeartbeat(packet, key, clusterId);
    expect(decoded.ok && decoded.value.message.heard).toEqual([3, 5]);
  });

  it('refuses to encode out-of-range fields', () => {
    expect(() => encodeHeartbeat({ clusterId, to: 0, message }, key)).toThrow(/to 0/);
    expect(() => encodeHeartbeat({ clusterId, to: 1, message: { ...message, from: 256 } }, key)).toThrow(/from 256/);
    expect(() => encodeHeartbeat({ clusterId, to: 1, message: { ...message, sequence: -1 } }, key)).toThrow(RangeError);
  });

  it('classifies every kind of bad packet', () => {
    const packet = encodeHeartbeat({ clusterId, to: 3, message }, key);
    const reason = (buf: Buffer, k = key, c = clusterId) => {
      const r = decodeHeartbeat(buf, k, c);
      return r.ok ? 'ok' : r.reason;
    };
    const flipped = Buffer.from(packet);
    flipped[40] = (flipped[40] ?? 0) ^ 1;
    const version2 = Buffer.from(packet);
    version2[4] = 2;
    const type9 = Buffer.from(packet);
    type9[5] = 9;
    expect(reason(flipped)).toBe('bad-mac');
    expect(reason(packet, Buffer.alloc(32, 8))).toBe('bad-mac');
    expect(reason(packet, key, clusterIdFromName('other'))).toBe('wrong-cluster');
    expect(reason(version2)).toBe('wrong-version');
    expect(reason(type9)).toBe('wrong-type');
    expect(reason(Buffer.alloc(600))).toBe('oversize');
    expect(reason(Buffer.from('YC'))).toBe('truncated');
    expect(reason(Buffer.from('hello world, not a heartbeat'))).toBe('malformed');
    for (let len = 0; len < packet.length; len++) expect(reason(packet.subarray(0, len))).not.toBe('ok');
    expect(reason(Buffer.concat([packet, Buffer.alloc(1)]))).toBe('malformed');
  });

  it('rejects a MAC-valid message with invalid fields', () => {
    // Built by hand: a sender with the key but a bad role code must still not be trusted.
    const packet = encodeHeartbeat({ clusterId, to: 3, message }, key);
    packet[26] = 42;
    createHmac('sha256', key).update(packet.subarray(0, packet.length - MAC_BYTES)).digest().copy(packet, packet.length - MAC_BYTES);
    const decoded = decodeHeartbeat(packet, key, clusterId);
    expect(decoded).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('replay guard', () => {
  it('accepts each sequence once, within and beyond the window', () => {
    const guard = new ReplayGuard();
    expect(guard.accept(1, 5, 10)).toBe('fresh');
    expect(guard.accept(1, 5, 10)).toBe('replay');
    expect(guard.accept(1, 5, 8)).toBe('fresh'); // reordered, inside the window
    expect(guard.accept(1, 5, 8)).toBe('replay');
    expect(guard.accept(1, 5, 11)).toBe('fresh');
    expect(guard.accept(1, 5, 11 + REPLAY_WINDOW)).toBe('fresh');
    expect(guard.accept(1, 5, 11)).toBe('replay'); // fell out of the window
    expect(guard.accept(2, 1, 10)).toBe('fresh'); // other senders have their own window
  });

  it('resets on a newer incarnation and rejects an older one', () => {
    const guard = new ReplayGuard();
    expect(guard.accept(1, 5, 1000)).toBe('fresh');
    expect(guard.accept(1, 6, 1)).toBe('fresh');
    expect(guard.accept(1, 6, 2)).toBe('fresh');
    expect(guard.accept(1, 5, 1001)).toBe('stale-incarnation');
    expect(guard.latest(1)).toEqual({ incarnation: 6, sequence: 2 });
  });
});

describe('cluster key file', () => {
  let scratch: ReturnType<typeof scratchDir>;
  beforeEach(() => {
    scratch = scratchDir('ycs-key-');
  });
  afterEach(() => scratch.remove());

  it('loads a generated key and refuses missing, short and world-readable keys', () => {
    const good = join(scratch.dir, 'good.key');
    writeClusterKey(good);
    expect(loadClusterKey(good).length).toBe(32);
    expect(() => writeClusterKey(good)).toThrow(/EEXIST/);

    const short = join(scratch.dir, 'short.key');
    writeFileSync(short, Buffer.alloc(16, 1), { mode: 0o600 });
    expect(() => loadClusterKey(short)).toThrow(/16 bytes; at least 32/);

    const open = join(scratch.dir, 'open.key');
    writeFileSync(open, Buffer.alloc(32, 1));
    chmodSync(open, 0o644);
    expect(() => loadClusterKey(open)).toThrow(/mode 644/);

    let missing: unknown;
    try {
      loadClusterKey(join(scratch.dir, 'nope.key'));
    } catch (err) {
      missing = err;
    }
    expect(isYcsError(missing, 'E_CONFIG')).toBe(true);
    expect((missing as Error).message).toMatch(/ENOENT/);
    expect((missing as Error).message).not.toContain('\n');
  });
});
