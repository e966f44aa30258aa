import { describe, expect, it } from 'vitest';
import { chooseSurvivingGroup } from '../../src/core/partition.js';

/** Builds a heard map from mutual links "a-b" and one-way links "a>b" (a hears b). */
function heard(links: string[]): Map<number, Set<number>> {
  const map = new Map<number, Set<number>>();
  const add = (a: number, b: number): void => {
    const set = map.get(a) ?? new Set<number>();
    set.add(b);
    map.set(a, set);
  };
  for (const l of links) {
    const [a, b] = l.split(/[->]/).map(Number) as [number, number];
    add(a, b);
    if (l.includes('-')) add(b, a);
  }
  return map;
}

describe('surviving group after a partition', () => {
  it('keeps everyone when all hear each other', () => {
    expect(chooseSurvivingGroup([3, 1, 2], heard(['1-2', '1-3', '2-3']), 1)).toEqual([1, 2, 3]);
  });

  it('keeps the largest fully connected group', () => {
    // 1 2 3 | 4 5 : the bigger side wins even without the old master
    const h = heard(['1-2', '1-3', '2-3', '4-5']);
    expect(chooseSurvivingGroup([1, 2, 3, 4, 5], h, 4)).toEqual([1, 2, 3]);
  });

  it('breaks a size tie in favour of the old master', () => {
    const h = heard(['1-2', '3-4']);
    expect(chooseSurvivingGroup([1, 2, 3, 4], h, 3)).toEqual([3, 4]);
  });

  it('breaks a tie without the old master by the lowest host id', () => {
    const h = heard(['2-3', '4-5']);
    expect(chooseSurvivingGroup([2, 3, 4, 5], h, 0)).toEqual([2, 3]);
    expect(chooseSurvivingGroup([2, 3, 4, 5], h, 9)).toEqual([2, 3]);
  });

  it('counts only links heard both ways', () => {
    // 1 hears 2 but 2 does not hear 1: they are not connected
    const h = heard(['1>2', '2-3']);
    expect(chooseSurvivingGroup([1, 2, 3], h, 1)).toEqual([2, 3]);
  });

  it('picks a clique, not a connected chain', () => {
    // 1-2-3-4 chain plus 2-4: best clique is {2,3,4}
    const h = heard(['1-2', '2-3', '3-4', '2-4']);
    expect(chooseSurvivingGroup([1, 2, 3, 4], h, 1)).toEqual([2, 3, 4]);
  });

  it('handles a lone host and no hosts', () => {
    expect(chooseSurvivingGroup([7], new Map(), 7)).toEqual([7]);
    expect(chooseSurvivingGroup([], new Map(), 0)).toEqual([]);
  });

  it('stays fast and deterministic on 255 hosts with a random dense graph', () => {
    let seed = 7;
    const rand = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const links: string[] = [];
    for (let a = 1; a <= 255; a++) for (let b = a + 1; b <= 255; b++) if (rand() < 0.9) links.push(`${a}-${b}`);
    const hosts = Array.from({ length: 255 }, (_, i) => i + 1);
    const started = performance.now();
    const first = chooseSurvivingGroup(hosts, heard(links), 1);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(first.length).toBeGreaterThan(5);
    const h = heard(links);
    for (const a of first) for (const b of first) if (a !== b) expect(h.get(a)?.has(b)).toBe(true);
    expect(chooseSurvivingGroup(hosts, heard(links), 1)).toEqual(first);
  });

  it('stays fast on 64 hosts split in two', () => {
    const links: string[] = [];
    for (let a = 1; a <= 64; a++) for (let b = a + 1; b <= 64; b++) if ((a <= 40) === (b <= 40)) links.push(`${a}-${b}`);
    const hosts = Array.from({ length: 64 }, (_, i) => i + 1);
    expect(chooseSurvivingGroup(hosts, heard(links), 50)).toHaveLength(40);
  });
});
