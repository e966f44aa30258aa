import { describe, expect, it } from 'vitest';
import { flagsOf } from '../../src/core/publish.js';
import { Resources, awaitingHb2Flags, awaitsHb2, shownState } from '../../src/core/resources.js';
import { StorePeers } from '../../src/core/store-peers.js';
import { HEARTBEAT_FLAG_PROMOTING, type Output } from '../../src/core/types.js';
import { statusFromView } from '../../src/core/view.js';
import { hostRecordOf } from '../../src/etcd/store.js';

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

describe('heartbeat 2 required', () => {
  function primaryOf(r: Resources): void {
    const out: Output[] = [];
    r.reconcile(0, 'master', 2, out);
    r.onActionDone(1, 0, 'stop', true);
    r.onActionDone(1, 1, 'stop', true);
    r.reconcile(1, 'master', 2, out);
    r.onActionDone(2, 0, 'start', true);
    r.onActionDone(2, 1, 'start', true);
    r.reconcile(2, 'master', 2, out);
    r.onActionDone(3, 0, 'promote', true);
    r.onActionDone(3, 1, 'promote', true);
  }

  it('shows a running resource as starting until its database connected, only where required', () => {
    const r = new Resources(['db', 'fs'], 2000, 2000, [true, false]);
    primaryOf(r);
    expect(r.states()).toEqual(['primary', 'primary']); // what the engine acts on is unchanged
    expect(r.awaitingHb2()).toEqual([true, false]);
    expect(r.shownStates()).toEqual(['starting', 'primary']);
    r.onEvent(4, 0, 'connected');
    expect(r.shownStates()).toEqual(['primary', 'primary']);
    expect(r.awaitingHb2()).toEqual([false, false]);
  });

  it('waits again after the database crashed and was started anew', () => {
    const r = new Resources(['db'], 2000, 2000, [true]);
    const out: Output[] = [];
    r.reconcile(0, 'standby', 2, out);
    r.onActionDone(1, 0, 'stop', true);
    r.reconcile(1, 'standby', 2, out);
    r.onActionDone(2, 0, 'start', true);
    r.onEvent(3, 0, 'connected');
    expect(r.shownStates()).toEqual(['standby']);
    expect(r.onEvent(4, 0, 'disconnected')).toBe(0);
    expect(r.shownStates()).toEqual(['failed']);
    r.reconcile(4, 'standby', 2, out);
    r.onActionDone(5, 0, 'stop', true);
    r.reconcile(5, 'standby', 2, out);
    r.onActionDone(6, 0, 'start', true);
    expect(r.shownStates()).toEqual(['starting']);
  });

  it('the flag bits sit beside the promoting bit and are read back per resource', () => {
    const flags = flagsOf(true, [false, true, false, true]);
    expect(flags & HEARTBEAT_FLAG_PROMOTING).toBe(HEARTBEAT_FLAG_PROMOTING);
    expect([0, 1, 2, 3].map((i) => awaitsHb2(flags, i))).toEqual([false, true, false, true]);
    expect(awaitsHb2(flagsOf(false, Array.from({ length: 16 }, (_, i) => i === 15)), 15)).toBe(true);
    expect(awaitingHb2Flags([])).toBe(0);
    expect(shownState('standby', true)).toBe('starting');
    expect(shownState('offline', true)).toBe('offline');
  });

  it('peers in etcd mode show a resource awaiting heartbeat 2 as starting; a bad index makes the record untrusted', () => {
    const peers = new StorePeers(1, [1, 2], 2000);
    peers.onNetHeartbeat(0, { from: 2, incarnation: 1, sequence: 1, role: 'master', epoch: 3, masterId: 2, heard: [1, 2] });
    const record = { hostId: 2, incarnation: 1, role: 'master' as const, epoch: 3, masterId: 2 as const, resources: ['primary' as const, 'primary' as const], awaitingHb2: [0] };
    peers.onRecords([record]);
    const view = peers.view(1, { role: 'standby', epoch: 3, masterId: 2, resources: ['standby', 'standby'] });
    expect(view.hosts.find((h) => h.hostId === 2)?.resources).toEqual(['starting', 'primary']);
    expect(statusFromView(view, ['db', 'fs']).resourceMasters).toEqual([0, 2]);
    expect(hostRecordOf(Buffer.from(JSON.stringify(record)))).toEqual(record);
    expect(hostRecordOf(Buffer.from(JSON.stringify({ ...record, awaitingHb2: [2] })))).toBeNull();
    expect(hostRecordOf(Buffer.from(JSON.stringify({ ...record, awaitingHb2: 'all' })))).toBeNull();
  });
});
