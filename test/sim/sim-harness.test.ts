// The simulator itself, tested apart from the real engine with a stand-in engine: runs
// replay exactly, the checkers catch two masters, and the fault model behaves.
import { describe, expect, it } from 'vitest';
import { Prng } from './prng.js';
import { EventQueue } from './queue.js';
import { runSeed } from './sim.js';
import { standinBinding } from './standin-engine.js';

describe('simulator harness (stand-in engine)', () => {
  it('replays a seed exactly: same trace hash, same steps', () => {
    const a = runSeed(11, standinBinding(), { faultPhaseMs: 8_000, trace: true });
    const b = runSeed(11, standinBinding(), { faultPhaseMs: 8_000, trace: true });
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.traceLines).toEqual(b.traceLines);
    expect(a.steps).toBeGreaterThan(100);
    const other = runSeed(12, standinBinding(), { faultPhaseMs: 8_000 });
    expect(other.traceHash).not.toBe(a.traceHash);
  });

  it('a single static master passes every checker across faults', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = runSeed(seed, standinBinding(), { faultPhaseMs: 8_000 });
      expect(r.violations, `seed ${seed}`).toEqual([]);
    }
  });

  it('catches two hosts promoting themselves in one epoch', () => {
    let caught = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const r = runSeed(seed, standinBinding(true), { faultPhaseMs: 8_000 });
      if (r.knobs.hostCount < 2) continue;
      expect(r.ok).toBe(false);
      expect(['two-masters-one-epoch', 'two-masters-acting']).toContain(r.violations[0]?.code);
      caught += 1;
    }
    expect(caught).toBeGreaterThan(10);
  });

  it('the PRNG is seeded and the queue orders ties by insertion', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const xs = Array.from({ length: 5 }, () => a.u32());
    expect(xs).toEqual(Array.from({ length: 5 }, () => b.u32()));
    expect(new Prng(43).u32()).not.toBe(xs[0]);
    const q = new EventQueue<string>();
    q.push(5, 'b');
    q.push(1, 'a');
    q.push(5, 'c');
    q.push(3, 'x');
    const order = [q.pop(), q.pop(), q.pop(), q.pop()].map((e) => e?.event);
    expect(order).toEqual(['a', 'x', 'b', 'c']);
  });
});
