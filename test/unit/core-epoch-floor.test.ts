// The epoch floor (docs/engine.md, "Epoch floor"): a restarted host whose own sectors
// showed epoch 5 at start never decides, adopts as master, or publishes an epoch below it,
// even when both of its vote copies are unreadable and its heartbeat sector was already
// overwritten by this run (one host, one voting disk: nobody else remembers epoch 5).
import { describe, expect, it } from 'vitest';
import { ownEpochFloor } from '../../src/core/arbitration.js';
import { createEngine } from '../../src/core/engine.js';
import { ScriptedWorld } from '../sim/scripted.js';
import type { Decision, HeartbeatPayload, Input, Output, SlotRead, VotePayload } from '../../src/core/types.js';

const TICK_MS = 50;
const torn: SlotRead<VotePayload> = { hostId: 1, verdict: 'crc-mismatch' };

/** One host on one in-memory disk; every I/O is answered 1 ms after it was issued. */
class OneHostOneDisk {
  heartbeat: SlotRead<HeartbeatPayload> = { hostId: 1, verdict: 'empty' };
  vote: SlotRead<VotePayload> = torn;
  readonly outputs: Output[] = [];
  private readonly engine;
  private pending: Input[] = [];
  private now = 0;

  constructor(epochFloor: number | undefined) {
    this.engine = createEngine({ hostId: 1, hostIds: [1], diskCount: 1, resources: [], incarnation: 3, ...(epochFloor === undefined ? {} : { epochFloor }) });
    this.feed({ kind: 'start', nowMs: 0 });
  }

  run(untilMs: number): void {
    while (this.now < untilMs) {
      this.now += 1;
      const answers = this.pending;
      this.pending = [];
      for (const a of answers) this.feed({ ...a, nowMs: this.now });
      if (this.now % TICK_MS === 0) this.feed({ kind: 'tick', nowMs: this.now });
    }
  }

  decisions(): Decision[] {
    return this.outputs.flatMap((o) => (o.kind === 'write-vote' && o.record.payload.decided ? [o.record.payload.decided] : []));
  }

  private feed(input: Input): void {
    const out = this.engine.step(input);
    this.outputs.push(...out);
    for (const o of out) {
      const requestId = 'requestId' in o ? o.requestId : 0;
      if (o.kind === 'read-disk') {
        this.pending.push({ kind: 'disk-read-done', nowMs: 0, requestId, disk: 0, heartbeats: [this.heartbeat], votes: [this.vote] });
      } else if (o.kind === 'write-heartbeat') {
        this.heartbeat = { hostId: 1, verdict: 'ok', record: o.record };
        this.pending.push({ kind: 'disk-write-done', nowMs: 0, requestId, disk: 0, area: 'heartbeat' });
      } else if (o.kind === 'write-vote') {
        this.vote = { hostId: 1, verdict: 'ok', record: o.record };
        this.pending.push({ kind: 'disk-write-done', nowMs: 0, requestId, disk: 0, area: 'vote' });
      }
    }
  }
}

describe('engine: the epoch floor of a restarted host', () => {
  it('without a floor, a lone host with both vote copies torn decides epoch 1 again (the gap)', () => {
    const h = new OneHostOneDisk(undefined);
    h.run(20_000);
    expect(h.decisions().map((d) => d.epoch)).toContain(1);
  });

  it('with floor 5 it never decides, acts on, or publishes an epoch <= 5 while epoch 5 is unknown', () => {
    const h = new OneHostOneDisk(5);
    h.run(20_000);
    expect(h.decisions()).toEqual([]);
    expect(h.outputs.filter((o) => o.kind === 'log' && o.msg === 'proposing a decision')).toEqual([]);
    expect(h.outputs.filter((o) => o.kind === 'role-change' && o.to === 'master')).toEqual([]);
    // Its disk heartbeat keeps the trace of epoch 5 (master 0: "floor only, not caught up").
    const published = h.outputs.flatMap((o) => (o.kind === 'write-heartbeat' ? [o.record.payload] : []));
    expect(published.length).toBeGreaterThan(10);
    expect(published.every((p) => p.epoch === 5 && p.masterId === 0)).toBe(true);
    const refusals = h.outputs.filter((o) => o.kind === 'log' && o.level === 'error' && o.fields?.['highestEpochSeen'] === 5);
    expect(refusals).toHaveLength(1);
  });

  it('once decision 5 is readable again (copy restored) it resumes and only ever decides above 5', () => {
    const h = new OneHostOneDisk(5);
    h.run(10_000);
    const five: Decision = { epoch: 5, masterId: 1, members: [1] };
    h.vote = { hostId: 1, verdict: 'ok', record: { hostId: 1, incarnation: 2, sequence: 9, payload: { instance: 5, mbal: 257, bal: 257, value: five, decided: five } } };
    h.run(30_000);
    expect(h.decisions().length).toBeGreaterThan(0);
    expect(Math.min(...h.decisions().map((d) => d.epoch))).toBeGreaterThanOrEqual(5);
    expect(h.outputs.filter((o) => o.kind === 'role-change' && o.to === 'master').every((o) => o.kind === 'role-change' && o.epoch >= 5)).toBe(true);
    expect(h.outputs.some((o) => o.kind === 'role-change' && o.to === 'master')).toBe(true);
  });
});

describe('engine: the floor among peers', () => {
  it('a restarted master shows its floor before its first read, and peers neither fail over nor count it as caught up', () => {
    const hx = new ScriptedWorld({ hosts: 3, disks: 3 }); // a scripted simulator run
    hx.run(6000);
    expect(hx.masters()).toEqual([1]);
    const epoch = hx.engine(1).view().epoch;
    expect(epoch).toBeGreaterThan(0);
    hx.crash(1);
    hx.run(hx.now + 900);
    const restartedAt = hx.now;
    hx.restart(1);
    const first = hx.outputs.find((o) => o.at >= restartedAt && o.host === 1 && o.output.kind === 'write-heartbeat');
    expect(first?.output).toMatchObject({ record: { payload: { role: 'starting', epoch, masterId: 0 } } });
    // Its process stalls right after that first write: peers read only the floor-only heartbeat.
    hx.wedge(1, 1500);
    hx.run(restartedAt + 8000);
    expect(hx.outputs.filter((o) => o.at >= restartedAt && o.output.kind === 'log' && o.output.msg === 'proposing a decision')).toEqual([]);
    for (const h of [1, 2, 3]) expect(hx.engine(h).view()).toMatchObject({ epoch, masterId: 1 });
    expect(hx.violations).toEqual([]);
  });
});

describe('ownEpochFloor', () => {
  const hb = (epoch: number): SlotRead<HeartbeatPayload> => ({
    hostId: 1, verdict: 'ok', record: { hostId: 1, incarnation: 1, sequence: 1, payload: { role: 'standby', epoch, masterId: 1, heard: [], resources: [], flags: 0 } },
  });
  const vote = (instance: number, decided: number): SlotRead<VotePayload> => ({
    hostId: 1, verdict: 'ok',
    record: { hostId: 1, incarnation: 1, sequence: 1, payload: { instance, mbal: 257, bal: 0, value: null, decided: decided === 0 ? null : { epoch: decided, masterId: 1, members: [1] } } },
  });

  it('takes the highest of heartbeat epoch, decided epoch and instance - 1 over every disk, trusting only valid sectors', () => {
    expect(ownEpochFloor([])).toBe(0);
    expect(ownEpochFloor([{ heartbeat: hb(5), vote: torn }])).toBe(5);
    expect(ownEpochFloor([{ heartbeat: hb(2), vote: vote(8, 6) }])).toBe(7);
    expect(ownEpochFloor([{ heartbeat: hb(2), vote: vote(3, 6) }, { heartbeat: hb(9), vote: torn }])).toBe(9);
    expect(ownEpochFloor([{ heartbeat: { hostId: 1, verdict: 'crc-mismatch', record: hb(9).record! }, vote: torn }])).toBe(0);
  });
});
