import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TRANSITIONS, findTransition, renderTransitionsDoc, requireTransition } from '../../src/core/transitions.js';

const DOC = new URL('../../docs/transitions.md', import.meta.url);

describe('role transition table', () => {
  it('has one row per (role, event)', () => {
    const keys = TRANSITIONS.map((t) => `${t.from}/${t.event}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('gives every row a reason and never leaves "leaving"', () => {
    for (const t of TRANSITIONS) expect(t.reason.length).toBeGreaterThan(10);
    expect(TRANSITIONS.filter((t) => t.from === 'leaving')).toEqual([]);
  });

  it('only lets a decision make a host master', () => {
    for (const t of TRANSITIONS.filter((r) => r.to === 'master')) expect(t.event).toBe('promote-ready');
  });

  it('self-fences a master whose window expired and throws on a transition the table lacks', () => {
    expect(requireTransition('master', 'window-expired').to).toBe('evicted');
    expect(findTransition('starting', 'resource-failed')).toBeUndefined();
    expect(() => requireTransition('starting', 'resource-failed')).toThrow(/no role transition/);
  });

  it('matches docs/transitions.md (YCS_UPDATE_DOCS=1 rewrites it)', () => {
    const expected = renderTransitionsDoc();
    if (process.env.YCS_UPDATE_DOCS === '1') writeFileSync(DOC, expected);
    expect(readFileSync(DOC, 'utf8')).toBe(expected);
  });
});
