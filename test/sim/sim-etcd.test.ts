// The simulator's etcd mode against the real lease-store engine (src/core/store-engine.ts):
// the CI sweep of 2,000 seeds, exact replay, the CLI, every etcd regression seed, and the
// broken-rule test: a master that keeps acting past its term must be caught.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeKnobs } from './knobs.js';
import { REGRESSIONS } from './regressions.js';
import { runSeed, type RunOptions, type RunResult } from './sim.js';
import { etcdBinding, TTL_VARIANTS } from './store-binding.js';

/** As sim.test.ts: a shorter fault phase than the default so 2,000 seeds fit the budget. */
const CI_FAULT_PHASE_MS = 12_000;
const CI_SEEDS = 2_000;
const CHUNK = 500;
const ETCD: RunOptions = { etcd: true, faultPhaseMs: CI_FAULT_PHASE_MS };

function explain(r: RunResult, options: RunOptions): string {
  const v = r.violations[0];
  const flags = `${options.faultPhaseMs !== undefined ? ` --fault-phase-ms ${options.faultPhaseMs}` : ''}${options.brokenRule ? ` --broken ${options.brokenRule}` : ''}`;
  return `seed ${r.seed} ${v?.code} at ${v?.atMs.toFixed(3)} ms host ${v?.host}: ${v?.detail}\n  ${describeKnobs(r.knobs)}\n  replay: npm run sim -- --seed ${r.seed} --etcd${flags} --trace`;
}

describe('simulator sweep in etcd mode against src/core/store-engine.ts', () => {
  const ttls = new Set<number>();
  const fencings = new Set<string>();
  for (let from = 1; from <= CI_SEEDS; from += CHUNK) {
    it(`etcd seeds ${from}..${from + CHUNK - 1} hold every invariant and liveness`, { timeout: 120_000 }, () => {
      const failures: string[] = [];
      for (let seed = from; seed < from + CHUNK; seed++) {
        const r = runSeed(seed, etcdBinding, ETCD);
        if (r.knobs.etcd) ttls.add(r.knobs.etcd.ttlMs);
        fencings.add(r.knobs.fencing);
        if (!r.ok) failures.push(explain(r, ETCD));
      }
      expect(failures).toEqual([]);
    });
  }

  it('the sweep drew every TTL variant and both fencing modes', () => {
    expect([...ttls].sort()).toEqual([...TTL_VARIANTS].sort());
    expect([...fencings].sort()).toEqual(['none', 'pr']);
  });

  it('replays an etcd seed exactly (same trace hash and trace lines)', () => {
    const options: RunOptions = { ...ETCD, trace: true };
    const a = runSeed(4242, etcdBinding, options);
    const b = runSeed(4242, etcdBinding, options);
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.traceLines.length).toBeGreaterThan(1_000);
    expect(a.traceLines).toEqual(b.traceLines);
    expect(a.traceLines.some((l) => l.includes('etcd-apply campaign -> won'))).toBe(true);
    expect(runSeed(4243, etcdBinding, options).traceHash).not.toBe(a.traceHash);
  });

  it('the CLI replays an etcd seed byte for byte and exits 1 on a broken rule', { timeout: 60_000 }, () => {
    const main = new URL('../../dist/test/sim/main.js', import.meta.url).pathname;
    expect(existsSync(main), `${main} missing: build first (npx tsc -p tsconfig.json)`).toBe(true);
    const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
    const a = run('--seed', '31', '--etcd', '--fault-phase-ms', '8000', '--trace');
    const b = run('--seed', '31', '--etcd', '--fault-phase-ms', '8000', '--trace');
    expect(a.status).toBe(0);
    expect(a.stdout).toContain('arbitration=etcd');
    expect(a.stdout).toContain('PASS seed 31 trace ');
    expect(a.stdout).toBe(b.stdout);
    const broken = run('--seed', '14', '--etcd', '--fault-phase-ms', '12000', '--broken', 'skipSelfFence');
    expect(broken.status).toBe(1);
    expect(broken.stdout).toContain('violation master-not-record-holder');
    expect(broken.stdout).toContain('replay: npm run sim -- --seed 14 --etcd --broken skipSelfFence');
  });

  it('the seed log lines appear: a new primary, followers joining', () => {
    const totals = new Map<string, number>();
    for (let seed = 1; seed <= 20; seed++) {
      for (const [line, n] of Object.entries(runSeed(seed, etcdBinding, ETCD).logCounts)) totals.set(line, (totals.get(line) ?? 0) + n);
    }
    expect(totals.get('ycs run as primary successfully') ?? 0).toBeGreaterThan(0);
    expect(totals.get('try join primary') ?? 0).toBeGreaterThan(0);
  });

  for (const reg of REGRESSIONS.filter((r) => r.etcd === true)) {
    const flavour = reg.brokenRule ? ` (broken ${reg.brokenRule})` : '';
    it(`etcd regression seed ${reg.seed}${flavour}: ${reg.caught}`, () => {
      const r = runSeed(reg.seed, etcdBinding, {
        etcd: true,
        ...(reg.faultPhaseMs !== undefined ? { faultPhaseMs: reg.faultPhaseMs } : {}),
        ...(reg.brokenRule ? { brokenRule: reg.brokenRule } : {}),
        ...(reg.stress ? { stress: true } : {}),
      });
      if (reg.expect === 'pass') expect(r.violations).toEqual([]);
      else expect(r.violations[0]?.code, `seed ${reg.seed} no longer caught by ${reg.checker}`).toBe(reg.checker);
    });
  }
});

describe('etcd mode: broken rules are caught within the CI seed count', () => {
  for (const rule of etcdBinding.brokenRules) {
    it(`store engine rule ${rule} broken on purpose -> a checker fires`, { timeout: 120_000 }, () => {
      const options: RunOptions = { ...ETCD, brokenRule: rule };
      const caught: RunResult[] = [];
      for (let seed = 1; seed <= 200; seed++) {
        const r = runSeed(seed, etcdBinding, options);
        if (!r.ok) caught.push(r);
      }
      expect(caught.length, `no checker caught ${rule} in 200 seeds`).toBeGreaterThan(5);
      expect(caught.filter((r) => r.violations[0]?.code === 'engine-threw').map((r) => explain(r, options))).toEqual([]);
    });
  }
});
