// The engine's parts on their own: storage fencing, heartbeat-2 grants, the master window,
// membership announcements, and the assertions each one carries.
import { describe, expect, it } from 'vitest';
import { AssertionFailure, assert } from '../../src/core/assert.js';
import { LeaseGrants } from '../../src/core/leases.js';
import { Membership } from '../../src/core/membership.js';
import { StorageFencing } from '../../src/core/storage-fencing.js';
import type { Output } from '../../src/core/types.js';
import { MasterWindow } from '../../src/core/window.js';

const kinds = (out: Output[]): string[] => out.map((o) => ('device' in o ? `${o.kind} ${o.device}` : o.kind));

describe('assert', () => {
  it('throws AssertionFailure with the message, lazily built', () => {
    expect(() => assert(false, 'two masters')).toThrow(new AssertionFailure('assertion failed: two masters'));
    let built = 0;
    assert(true, () => `never ${++built}`);
    expect(built).toBe(0);
    expect(() => assert(0, () => 'lazy')).toThrow('assertion failed: lazy');
  });
});

describe('StorageFencing', () => {
  it('registers every device once, retries a failed one, and treats a later conflict as a fence', () => {
    const f = new StorageFencing('pr', 3, 500);
    const out: Output[] = [];
    f.register(0, 1, out);
    expect(kinds(out)).toEqual(['register 0', 'register 1', 'register 2']);
    f.register(10, 1, out);
    expect(out).toHaveLength(3); // registering already
    f.onStepDone(20, { step: 'register', device: 0, ok: true }, 7, 0);
    f.onStepDone(20, { step: 'register', device: 1, ok: false, detail: 'E_IO' }, 7, 0);
    f.onStepDone(20, { step: 'register', device: 2, ok: true }, 7, 0);
    out.length = 0;
    f.register(100, 1, out);
    expect(out).toEqual([]); // the retry waits retryMs
    f.register(520, 1, out);
    expect(kinds(out)).toEqual(['register 1']);
    f.onStepDone(530, { step: 'register', device: 1, ok: true }, 9, 0);
    expect(f.registered()).toBe(true);
    // a conflict for a request issued before the registration completed says nothing
    expect(f.onConflict(600, 0, 7, 1)).toBe(false);
    expect(f.onConflict(600, 1, 9, 1)).toBe(false);
    expect(f.fencedByStorage).toBe(false);
    // one issued after it does: every device lost the key
    expect(f.onConflict(610, 0, 8 + 4, 1)).toBe(true);
    expect(f.fencedByStorage).toBe(true);
    expect(f.registered()).toBe(false);
    expect(f.onConflict(620, 2, 20, 1)).toBe(false); // already known to be fenced
  });

  it('re-keys at each newer epoch; acts only under a current key; a rekey that finds its key gone is a fence', () => {
    const f = new StorageFencing('pr', 2, 500);
    const out: Output[] = [];
    f.register(0, 4, out);
    f.onStepDone(10, { step: 'register', device: 0, ok: true }, 1, 4);
    f.onStepDone(10, { step: 'register', device: 1, ok: true }, 1, 4);
    expect(f.keyCurrent(4)).toBe(true);
    out.length = 0;
    f.register(20, 4, out);
    expect(out).toEqual([]); // the key is of this epoch already
    f.register(30, 6, out);
    expect(out).toEqual([{ kind: 'rekey', device: 0, fromEpoch: 4, epoch: 6 }, { kind: 'rekey', device: 1, fromEpoch: 4, epoch: 6 }]);
    expect(f.keyCurrent(6)).toBe(false); // no acting in epoch 6 before both rekeys answered
    expect(f.onStepDone(40, { step: 'rekey', device: 0, ok: true }, 2, 6)).toBe(false);
    // an I/O error keeps the old key, retried after the retry period
    expect(f.onStepDone(40, { step: 'rekey', device: 1, ok: false, detail: 'E_IO' }, 2, 6)).toBe(false);
    out.length = 0;
    f.register(100, 6, out);
    expect(out).toEqual([]);
    f.register(540, 6, out);
    expect(out).toEqual([{ kind: 'rekey', device: 1, fromEpoch: 4, epoch: 6 }]);
    // REGISTER from the old key conflicted: that key was preempted, this host is fenced
    expect(f.onStepDone(550, { step: 'rekey', device: 1, ok: false, keyGone: true }, 3, 6)).toBe(true);
    expect(f.fencedByStorage).toBe(true);
    expect(f.registered()).toBe(false);
    expect(f.mayRegister(6, () => false)).toBe(false); // registers anew only after a read or a newer decision
  });

  it('a fenced host registers again only after a newer decision or a read since the fence', () => {
    const f = new StorageFencing('pr', 1, 500);
    expect(f.onConflict(1_000, 0, 3, 4)).toBe(true);
    const readSince = (at: number) => (ms: number) => at >= ms;
    expect(f.mayRegister(4, readSince(900))).toBe(false); // the decision it knew when fenced, no read since
    expect(f.mayRegister(5, readSince(900))).toBe(true); // a newer decision
    expect(f.mayRegister(4, readSince(1_000))).toBe(true); // a majority read started after the fence
    const out: Output[] = [];
    f.register(1_100, 5, out);
    expect(kinds(out)).toEqual(['register 0']);
    expect(f.fencedByStorage).toBe(false);
  });

  it('reserves once per epoch, fences only outsiders after a read, and does nothing without PR', () => {
    const f = new StorageFencing('pr', 2, 500);
    const out: Output[] = [];
    f.reserve(3, out);
    f.fenceOutside({ epoch: 3, members: [1, 3] }, [1, 2, 3, 4], 1_000);
    expect(f.takeReadRequest()).toBe(true);
    expect(f.takeReadRequest()).toBe(false); // one read asked per set of fences
    const master3 = { epoch: 3, masterId: 1 };
    f.issueFences(master3, 1, (ms) => 999 >= ms, out); // the latest majority read started before the adoption
    expect(kinds(out)).toEqual(['reserve 0', 'reserve 1']);
    f.issueFences(master3, 1, (ms) => 1_000 >= ms, out); // one started at or after it
    expect(kinds(out)).toEqual(['reserve 0', 'reserve 1', 'fence']);
    f.issueFences(master3, 1, () => true, out); // one fence at a time
    expect(kinds(out)).toEqual(['reserve 0', 'reserve 1', 'fence']);
    f.onFenceDone(1_050, 2);
    expect(f.takeReadRequest()).toBe(true); // the next fence asks for its own read
    f.issueFences(master3, 1, (ms) => 1_049 >= ms, out); // a read from before the answer does not count
    expect(kinds(out)).toEqual(['reserve 0', 'reserve 1', 'fence']);
    f.issueFences(master3, 1, (ms) => 1_050 >= ms, out);
    expect(kinds(out)).toEqual(['reserve 0', 'reserve 1', 'fence', 'fence']);
    expect(out.filter((o) => o.kind === 'fence').map((o) => (o.kind === 'fence' ? o.victim : 0))).toEqual([2, 4]);
    expect(() => f.reserve(3, out)).toThrow(/assertion failed: reserve for epoch 3 after epoch 3/);
    expect(() => f.onStepDone(0, { step: 'register', device: 5, ok: true }, 1, 0)).toThrow(/assertion failed: fence-step-done for device 5/);
    const none = new StorageFencing('none', 0, 500);
    const quiet: Output[] = [];
    none.register(0, 1, quiet);
    none.reserve(1, quiet);
    none.fenceOutside({ epoch: 1, members: [1] }, [1, 2], 0);
    none.issueFences({ epoch: 1, masterId: 1 }, 1, () => true, quiet);
    expect(quiet).toEqual([]);
    expect(() => new StorageFencing('pr', 0, 500)).toThrow(/assertion failed: PR fencing without fenced devices/);
  });
});

describe('StorageFencing: a newer decision voids pending fences', () => {
  it('drops the fences of a decision the read showed superseded, or that names another master', () => {
    const f = new StorageFencing('pr', 1, 500);
    const out: Output[] = [];
    f.fenceOutside({ epoch: 3, members: [1, 3] }, [1, 2, 3], 1_000);
    f.issueFences({ epoch: 4, masterId: 2 }, 1, () => true, out); // the read brought epoch 4
    f.issueFences({ epoch: 3, masterId: 1 }, 1, () => true, out);
    expect(out).toEqual([]);
    expect(f.takeReadRequest()).toBe(false);
  });
});

describe('LeaseGrants', () => {
  it('grants a master up to its window, others a liveness lease, and revokes at once', () => {
    const g = new LeaseGrants(2, 1_500);
    const out: Output[] = [];
    g.grantAlive(0, out);
    expect(out).toEqual([
      { kind: 'grant-lease', resource: 0, untilMs: 3_000, primary: false },
      { kind: 'grant-lease', resource: 1, untilMs: 3_000, primary: false },
    ]);
    out.length = 0;
    g.grantAlive(1_400, out);
    expect(out).toEqual([]); // more than a lease left
    g.grantAlive(1_600, out);
    expect(out).toHaveLength(2);
    out.length = 0;
    g.grantPrimary(2_000, 3_200, out);
    expect(out.map((o) => o.kind === 'grant-lease' && o.primary && o.untilMs)).toEqual([3_200, 3_200]);
    out.length = 0;
    g.grantPrimary(2_050, 3_200, out);
    expect(out).toEqual([]); // unchanged window: nothing new
    expect(() => g.grantPrimary(2_100, 3_700, out)).toThrow(/assertion failed: primary grant 3700 beyond one lease after 2100/);
    g.revoke('self-fence', out);
    expect(out).toEqual([{ kind: 'revoke-authority', reason: 'self-fence' }]);
    g.grantAlive(2_200, out);
    expect(out.slice(1).every((o) => o.kind === 'grant-lease' && !o.primary)).toBe(true);
  });
});

describe('MasterWindow', () => {
  it('ends a lease after the older of the last majority write and read starts', () => {
    const w = new MasterWindow(1_500);
    expect(w.end()).toBeNull();
    w.onMajorityWrite(100);
    expect(w.recent(200)).toBe(false);
    w.onMajorityRead(300);
    expect(w.end()).toBe(1_600);
    w.onMajorityRead(200); // starts only grow
    expect(w.end()).toBe(1_600);
    expect(w.remaining(1_000)).toBe(600);
    expect(w.valid(1_700, 'master', 0)).toBe(false);
    expect(w.valid(1_700, 'standby', 1_000)).toBe(true); // a new standby's grace
    expect(w.canRead(1_700)).toBe(true);
    expect(w.readSince(300)).toBe(true);
    expect(w.readSince(301)).toBe(false);
  });
});

describe('Membership', () => {
  it('announces the first decision as admitting everyone, then only changes', () => {
    const m = new Membership(2_000);
    const out: Output[] = [];
    m.onAdopt(0, null, { epoch: 1, masterId: 1, members: [1, 2] }, out);
    m.onAdopt(10, { epoch: 1, masterId: 1, members: [1, 2] }, { epoch: 2, masterId: 2, members: [1, 2] }, out);
    m.onAdopt(20, { epoch: 2, masterId: 2, members: [1, 2] }, { epoch: 3, masterId: 2, members: [2, 3] }, out);
    expect(out).toEqual([
      { kind: 'membership', epoch: 1, masterId: 1, members: [1, 2], admitted: [1, 2], evicted: [] },
      { kind: 'membership', epoch: 3, masterId: 2, members: [2, 3], admitted: [3], evicted: [1] },
    ]);
    const d = { epoch: 3, masterId: 2, members: [2, 3] };
    expect(m.recentlyAdmitted(3, 1_000, d)).toBe(true);
    expect(m.recentlyAdmitted(3, 2_020, d)).toBe(false);
    expect(m.recentlyAdmitted(1, 1_000, d)).toBe(false);
  });
});

describe('engine assertions', () => {
  it('an input before start, a second start and time going back stop the engine', async () => {
    const { createEngine } = await import('../../src/core/engine.js');
    const { deriveTimeouts } = await import('../../src/core/timeouts.js');
    const make = () => createEngine({ hostId: 1, hostIds: [1, 2], diskCount: 1, resources: [], timeouts: deriveTimeouts(), incarnation: 1, fencing: 'none' });
    expect(() => make().step({ kind: 'tick', nowMs: 5 })).toThrow(/assertion failed: 'tick' before 'start'/);
    const e = make();
    e.step({ kind: 'start', nowMs: 100 });
    expect(() => e.step({ kind: 'start', nowMs: 110 })).toThrow(/assertion failed: start given twice/);
    expect(() => e.step({ kind: 'tick', nowMs: 50 })).toThrow(AssertionFailure);
  });
});
