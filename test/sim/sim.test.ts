// The simulator against the real engine (src/core): the CI sweep of 2,000 seeds, exact
// replay, every regression seed, and the broken-rule test: with a rule broken on purpose
// a checker must catch a violation within the CI seed count.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { coreBinding } from './core-binding.js';
import { describeKnobs } from './knobs.js';
import { REGRESSIONS } from './regressions.js';
import { runSeed, type RunOptions, type RunResult } from './sim.js';
import { slowHostSample } from './slow.js';

/** CI runs shorter fault phases than the default so 2,000 seeds fit in the time budget. */
const CI_FAULT_PHASE_MS = 12_000;
const CI_SEEDS = 2_000;
const CHUNK = 250;

function explain(r: RunResult, options: RunOptions): string {
  const v = r.violations[0];
  const flags = options.faultPhaseMs !== undefined ? ` --fault-phase-ms ${options.faultPhaseMs}` : '';
  return `seed ${r.seed} ${v?.code} at ${v?.atMs.toFixed(3)} ms host ${v?.host}: ${v?.detail}\n  ${describeKnobs(r.knobs)}\n  replay: npm run sim -- --seed ${r.seed}${flags} --trace`;
}

describe('simulator sweep against src/core', () => {
  for (let from = 1; from <= CI_SEEDS; from += CHUNK) {
    it(`seeds ${from}..${from + CHUNK - 1} hold every invariant and liveness`, { timeout: 120_000 }, () => {
      const options: RunOptions = { faultPhaseMs: CI_FAULT_PHASE_MS };
      const failures: string[] = [];
      for (let seed = from; seed < from + CHUNK; seed++) {
        const r = runSeed(seed, coreBinding, options);
        if (!r.ok) failures.push(explain(r, options));
      }
      expect(failures).toEqual([]);
    });
  }

  it('scale mode: a 64-host and a 255-host cluster hold every invariant', { timeout: 300_000 }, () => {
    const sizes: number[] = [];
    for (const seed of [1, 2]) {
      const r = runSeed(seed, coreBinding, { mode: 'scale' });
      sizes.push(r.knobs.hostCount);
      expect(r.violations, `scale seed ${seed}`).toEqual([]);
    }
    expect(sizes).toEqual([64, 255]);
  });

  it('replays a seed exactly (same trace hash and trace lines)', () => {
    const options: RunOptions = { faultPhaseMs: CI_FAULT_PHASE_MS, trace: true };
    const a = runSeed(4242, coreBinding, options);
    const b = runSeed(4242, coreBinding, options);
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.traceLines.length).toBeGreaterThan(1_000);
    expect(a.traceLines).toEqual(b.traceLines);
    expect(runSeed(4243, coreBinding, options).traceHash).not.toBe(a.traceHash);
  });

  it('the CLI replays a seed byte for byte and exits non-zero on a failure', { timeout: 60_000 }, () => {
    const main = new URL('../../dist/test/sim/main.js', import.meta.url).pathname;
    expect(existsSync(main), `${main} missing: build first (npx tsc -p tsconfig.json)`).toBe(true);
    const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
    const a = run('--seed', '31', '--fault-phase-ms', '8000', '--trace');
    const b = run('--seed', '31', '--fault-phase-ms', '8000', '--trace');
    expect(a.status).toBe(0);
    expect(a.stdout).toContain('PASS seed 31 trace ');
    expect(a.stdout).toBe(b.stdout);
    const broken = run('--seed', '1', '--fault-phase-ms', '12000', '--broken', 'skipPhase1Check');
    expect(broken.status).toBe(1);
    expect(broken.stdout).toContain('replay: npm run sim -- --seed 1 --broken skipPhase1Check');
  });

  it('the seed log lines appear: a vote cycle, a new primary, followers joining', () => {
    const totals = new Map<string, number>();
    for (let seed = 1; seed <= 40; seed++) {
      const r = runSeed(seed, coreBinding, { faultPhaseMs: CI_FAULT_PHASE_MS });
      for (const [line, n] of Object.entries(r.logCounts)) totals.set(line, (totals.get(line) ?? 0) + n);
    }
    expect(totals.get('abnormal found, trigger a new vote cycle') ?? 0).toBeGreaterThan(0);
    expect(totals.get('ycs run as primary successfully') ?? 0).toBeGreaterThan(0);
    expect(totals.get('try join primary') ?? 0).toBeGreaterThan(0);
  });

  it('a merely slow host (spikes up to slowSpikeMs) is never evicted', { timeout: 60_000 }, () => {
    const problems: string[] = [];
    let spikes = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const r = slowHostSample(seed, coreBinding);
      spikes += r.spikes;
      problems.push(...r.problems.map((p) => `seed ${seed}: ${p}`));
    }
    expect(spikes).toBeGreaterThan(300);
    expect(problems).toEqual([]);
  });

  for (const reg of REGRESSIONS.filter((r) => r.etcd !== true)) {
    const flavour = reg.brokenRule ? ` (broken ${reg.brokenRule})` : reg.lyingDiskOdds ? ' (lying disk)' : '';
    it(`regression seed ${reg.seed}${flavour}: ${reg.caught}`, () => {
      const r = runSeed(reg.seed, coreBinding, {
        ...(reg.mode ? { mode: reg.mode } : {}),
        ...(reg.faultPhaseMs !== undefined ? { faultPhaseMs: reg.faultPhaseMs } : {}),
        ...(reg.brokenRule ? { brokenRule: reg.brokenRule } : {}),
        ...(reg.lyingDiskOdds ? { lyingDiskOdds: reg.lyingDiskOdds } : {}),
        ...(reg.stress ? { stress: true } : {}),
        ...(reg.faultModel ? { faultModel: reg.faultModel } : {}),
      });
      if (reg.expect === 'pass') expect(r.violations).toEqual([]);
      else expect(r.ok, `seed ${reg.seed} no longer caught (was ${reg.checker})`).toBe(false);
    });
  }
});

describe('broken rules are caught within the CI seed count', () => {
  for (const rule of coreBinding.brokenRules) {
    it(`engine rule ${rule} broken on purpose -> a checker fires`, { timeout: 120_000 }, () => {
      let caught: RunResult | undefined;
      for (let seed = 1; seed <= CI_SEEDS && !caught; seed++) {
        const r = runSeed(seed, coreBinding, { faultPhaseMs: CI_FAULT_PHASE_MS, brokenRule: rule });
        if (!r.ok && r.violations[0]?.code !== 'engine-threw') caught = r;
      }
      expect(caught, `no checker caught ${rule} in ${CI_SEEDS} seeds`).toBeDefined();
    });
  }
});
