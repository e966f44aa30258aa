// The publisher's timing (src/core/publish.ts): heartbeats at their intervals, and out of
// cycle when what they show changes or the engine hurries them.
import { describe, expect, it } from 'vitest';
import { Publisher, type Published, type Shown } from '../../src/core/publish.js';
import { deriveTimeouts } from '../../src/core/timeouts.js';

const t = deriveTimeouts(); // intervals 250 ms, tick 50 ms
const standby: Shown = { role: 'standby', decision: { epoch: 3, masterId: 1, members: [1, 2, 3] }, resources: ['standby'], awaitingHb2: [false], promoting: false };
const full = (s: Shown): Published => ({ ...s, heard: [1, 2, 3] });

/** A publisher that wrote its first disk heartbeat and sent its first message at 0. */
function started(shown: Shown): Publisher {
  const p = new Publisher(2, 1, 0, t);
  expect(p.diskDue(0, shown)).toBe(true);
  p.heartbeatRecord(full(shown));
  expect(p.netDue(0, shown)).toBe(true);
  p.netMessage(0, full(shown));
  return p;
}

describe('Publisher', () => {
  it('writes the disk heartbeat and sends heartbeat 1 once per interval while nothing changes', () => {
    const p = started(standby);
    expect(p.diskDue(249, standby)).toBe(false);
    expect(p.netDue(249, standby)).toBe(false);
    expect(p.diskDue(250, standby)).toBe(true);
    expect(p.netDue(250, standby)).toBe(true);
  });

  it('sends both at once when the role, epoch or master shown changes', () => {
    const p = started(standby);
    const adopted: Shown = { ...standby, decision: { epoch: 4, masterId: 3, members: [2, 3] } };
    expect(p.netDue(10, adopted)).toBe(true);
    expect(p.diskDue(10, adopted)).toBe(true);
    const record = p.heartbeatRecord(full(adopted));
    expect(record.payload.epoch).toBe(4);
    expect(p.diskDue(20, adopted)).toBe(false); // shown now: back to the interval
  });

  it('writes the disk heartbeat at once when only a resource state or flag changes; heartbeat 1 does not show those', () => {
    const p = started(standby);
    const stopped: Shown = { ...standby, resources: ['offline'] };
    expect(p.diskDue(10, stopped)).toBe(true);
    expect(p.netDue(10, stopped)).toBe(false);
    p.heartbeatRecord(full(stopped));
    const promoting: Shown = { ...stopped, promoting: true };
    expect(p.diskDue(20, promoting)).toBe(true);
  });

  it('hurrySoon: at once if a tick passed since the last disk heartbeat, else a tick after it', () => {
    const p = started(standby);
    p.hurrySoon(20);
    expect(p.diskDue(20, standby)).toBe(false);
    expect(p.diskDue(49, standby)).toBe(false);
    expect(p.diskDue(50, standby)).toBe(true); // a tick after the one at 0
    p.hurrySoon(130);
    expect(p.diskDue(130, standby)).toBe(true); // 80 ms since the last: at once
    expect(p.diskDue(131, standby)).toBe(false); // and the next interval counts from it
    expect(p.diskDue(380, standby)).toBe(true);
  });

  it('hurry (a pause, a fence read): at this very step', () => {
    const p = started(standby);
    p.hurry(5);
    expect(p.diskDue(5, standby)).toBe(true);
  });
});
