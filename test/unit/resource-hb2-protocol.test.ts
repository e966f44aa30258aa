// The heartbeat-2 codec shared by server and client, and the ycsm channel codec.
import { describe, expect, it } from 'vitest';
import { decodeMonitorMessage, processStartTime } from '../../src/monitor/channel.js';
import { decodeClientMessage, decodeServerMessage, encodeHb2 } from '../../src/resource/hb2-protocol.js';

describe('heartbeat-2 messages', () => {
  it('round-trips every message type', () => {
    const hello = { v: 1, type: 'hello', resource: 'yas.db-1', pid: 77 } as const;
    expect(decodeClientMessage(encodeHb2(hello).trim())).toEqual({ ok: true, message: hello });
    const ack = { v: 1, type: 'ack', seq: 3, role: 'primary', epoch: 12, leaseMs: 900 } as const;
    expect(decodeServerMessage(encodeHb2(ack).trim())).toEqual({ ok: true, message: ack });
    const welcome = { v: 1, type: 'welcome', resource: 'x', hostId: 4, role: 'standby', epoch: 0, leaseMs: 9, timeoutMs: 5 } as const;
    expect(decodeServerMessage(JSON.stringify(welcome))).toEqual({ ok: true, message: welcome });
  });

  it('rejects wrong versions, types and field values with a reason', () => {
    const bad: Array<[string, string]> = [
      ['{"v":1,"type":"hello","resource":"a b","pid":1}', 'resource'],
      ['{"v":1,"type":"hello","resource":"x","pid":1.5}', 'pid'],
      ['{"v":1,"type":"heartbeat","seq":-1}', 'seq'],
      ['{"v":1,"type":"heartbeat"}', 'seq'],
      ['{"v":1}', 'type'],
      ['null', 'object'],
      ['"hello"', 'object'],
    ];
    for (const [line, mentions] of bad) {
      const decoded = decodeClientMessage(line);
      expect(decoded.ok, line).toBe(false);
      if (!decoded.ok) expect(decoded.reason, line).toContain(mentions);
    }
    expect(decodeClientMessage('{"type":"hello"}')).toMatchObject({ ok: false, code: 'E_UNSUPPORTED_VERSION' });
    expect(decodeServerMessage('{"v":1,"type":"ack","seq":1,"role":"king","epoch":1,"leaseMs":1}')).toMatchObject({ ok: false });
    expect(decodeServerMessage('{"v":1,"type":"role","role":"standby"}')).toMatchObject({ ok: false });
  });
});

describe('ycsm channel', () => {
  it('decodes beats, keeps only plausible pids, and ignores garbage', () => {
    expect(decodeMonitorMessage('{"v":1,"type":"hb","seq":2,"pids":[{"pid":99,"start":"5"},{"pid":1,"start":"1"},{"pid":"x"}]}')).toEqual({
      v: 1, type: 'hb', seq: 2, pids: [{ pid: 99, start: '5' }],
    });
    expect(decodeMonitorMessage('{"v":1,"type":"stopping"}')).toEqual({ v: 1, type: 'stopping' });
    expect(decodeMonitorMessage('{"v":2,"type":"stopping"}')).toBeNull();
    expect(decodeMonitorMessage('}{')).toBeNull();
  });

  it('reads a process start time that is stable for a pid and absent for a dead one', () => {
    const own = processStartTime(process.pid);
    expect(own).toMatch(/^\d+$/);
    expect(processStartTime(process.pid)).toBe(own);
    expect(processStartTime(2 ** 22 + 1)).toBeUndefined(); // above pid_max
  });
});
