import { describe, expect, it } from 'vitest';
import { Resources } from '../../src/core/resources.js';
import type { Output } from '../../src/core/types.js';

function actions(out: Output[]): string[] {
  return out.map((o) => (o.kind === 'resource' ? `${o.action}@${o.epoch}` : o.kind));
}

describe('resources', () => {
  it('walks a resource to primary one action at a time, with the epoch as token', () => {
    const r = new Resources(['db'], 2000, 2000);
    const out: Output[] = [];
    r.reconcile(0, 'master', 4, out);
    r.reconcile(1, 'master', 4, out); // nothing new while the stop is in flight
    expect(actions(out)).toEqual(['stop@4']);
    r.onActionDone(10, 0, 'stop', true);
    r.reconcile(10, 'master', 4, out);
    r.onActionDone(20, 0, 'start', true);
    r.reconcile(20, 'master', 4, out);
    r.onActionDone(30, 0, 'promote', true);
    expect(actions(out)).toEqual(['stop@4', 'start@4', 'promote@4']);
    expect(r.states()).toEqual(['primary']);
    expect(r.anyPrimary()).toBe(true);
  });

  it('a stop overtakes a promote still in flight when the role changes, and counts as primary until done', () => {
    const r = new Resources(['db'], 2000, 2000);
    const out: Output[] = [];
    r.reconcile(0, 'master', 1, out);
    r.onActionDone(1, 0, 'stop', true);
    r.reconcile(1, 'master', 1, out);
    r.onActionDone(2, 0, 'start', true);
    r.reconcile(2, 'master', 1, out); // promote in flight
    r.reconcile(3, 'evicted', 1, out); // self-fenced meanwhile
    expect(actions(out).slice(-2)).toEqual(['promote@1', 'stop@1']);
    expect(r.states()).toEqual(['primary']);
    r.onActionDone(4, 0, 'promote', true); // the late promote answer is ignored
    expect(r.states()).toEqual(['primary']);
    r.onActionDone(5, 0, 'stop', true);
    expect(r.states()).toEqual(['offline']);
    expect(r.allStopped()).toBe(true);
  });

  it('reports heartbeat-2 silence once the database used it, and a crash at once', () => {
    const r = new Resources(['a', 'b'], 2000, 2000);
    const out: Output[] = [];
    r.reconcile(0, 'standby', 1, out);
    r.onActionDone(1, 0, 'stop', true);
    r.onActionDone(1, 1, 'stop', true);
    r.reconcile(1, 'standby', 1, out);
    r.onActionDone(2, 0, 'start', true);
    r.onActionDone(2, 1, 'start', true);
    expect(r.onEvent(3, 0, 'heartbeat')).toBeNull();
    expect(r.checkHeartbeats(2003)).toEqual([]);
    expect(r.checkHeartbeats(2004)).toEqual([0]); // b never sent heartbeat 2: not watched
    expect(r.onEvent(2005, 1, 'disconnected')).toBe(1);
    expect(r.states()).toEqual(['failed', 'failed']);
  });
});
