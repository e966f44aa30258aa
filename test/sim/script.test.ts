// The scripted mode: a JSON fault list run with every checker, its parse errors, and the
// simulator's exit statuses (0 pass, 1 safety, 2 usage, 3 liveness, 4 crash).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, outcomeOf, worst } from './outcome.js';
import { parseScript, runScript } from './script.js';
import type { RunResult } from './sim.js';

const dir = mkdtempSync(join(tmpdir(), 'ycs-script-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const main = new URL('../../dist/test/sim/main.js', import.meta.url).pathname;
const example = new URL('./scripts/master-crash-then-partition.json', import.meta.url).pathname;

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  expect(existsSync(main), `${main} missing: build first (npx tsc -p tsconfig.json)`).toBe(true);
  return spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
}

function file(name: string, script: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(script));
  return path;
}

describe('scripted mode', () => {
  it('runs the example: faults at the master, healed, a master again, every checker held', () => {
    const r = runScript(parseScript({ hosts: 3, disks: 3, fencing: 'pr', healAtMs: 24_000, faults: [
      { atMs: 8_000, kind: 'crash', host: 'master', downMs: 5_000 },
      { atMs: 15_000, kind: 'partition', sides: [[1], [2, 3]], durationMs: 4_000 },
      { atMs: 17_000, kind: 'wedge', host: 'master', durationMs: 4_000 },
    ] }), { trace: true });
    expect(r.violations).toEqual([]);
    expect(r.healToMasterMs).toBeDefined();
    expect(r.traceLines.filter((l) => l.includes('fault-')).map((l) => l.trim().split(' ').slice(1).join(' '))).toEqual(['h1 fault-crash', 'h0 fault-partition', 'h2 fault-wedge', 'h0 fault-heal']);
    const again = runScript(parseScript({ hosts: 3, disks: 3, fencing: 'pr', healAtMs: 24_000, faults: [{ atMs: 8_000, kind: 'crash', host: 'master', downMs: 5_000 }, { atMs: 15_000, kind: 'partition', sides: [[1], [2, 3]], durationMs: 4_000 }, { atMs: 17_000, kind: 'wedge', host: 'master', durationMs: 4_000 }] }), { trace: true });
    expect(again.traceHash).toBe(r.traceHash); // a script replays exactly
  });

  it('refuses a bad script with one line naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [[], /a script is a JSON object/],
      [{ hosts: 0, faults: [] }, /hosts must be a number >= 1/],
      [{ hosts: 3, disks: 2, faults: [] }, /disks must be 1, 3 or 5/],
      [{ hosts: 3, faults: [{ atMs: 5, kind: 'nuke' }] }, /faults\[0\]\.kind "nuke" is not one of/],
      [{ hosts: 3, faults: [{ atMs: 5, kind: 'crash', host: 7 }] }, /faults\[0\]\.host must be "master" or a host id 1\.\.3/],
      [{ hosts: 3, faults: [{ atMs: 5, kind: 'partition', sides: [[1]] }] }, /sides must list two or more groups/],
      [{ hosts: 3, disks: 3, faults: [{ atMs: 5, kind: 'disk-stall', disk: 3, durationMs: 9 }] }, /disk must be "all" or a disk index 0\.\.2/],
      [{ hosts: 3, healAtMs: 10, faults: [{ atMs: 50, kind: 'heal' }] }, /healAtMs \(10\) comes before the last fault \(50\)/],
    ];
    for (const [script, message] of cases) expect(() => parseScript(script)).toThrow(message);
  });

  it('classifies outcomes: liveness, crash, safety; the most serious wins', () => {
    const result = (code?: string): RunResult => ({ violations: code === undefined ? [] : [{ code, host: 1, atMs: 1, detail: '' }] }) as unknown as RunResult;
    expect(outcomeOf(result())).toBe('pass');
    expect(outcomeOf(result('no-master-after-heal'))).toBe('liveness');
    expect(outcomeOf(result('engine-threw'))).toBe('crash');
    expect(outcomeOf(result('two-masters-acting'))).toBe('safety');
    expect(worst(['liveness', 'crash'])).toBe('crash');
    expect(worst(['liveness', 'safety', 'crash'])).toBe('safety');
    expect(worst([])).toBe('pass');
    expect(EXIT_CODES).toEqual({ pass: 0, safety: 1, usage: 2, liveness: 3, crash: 4 });
  });

  it('the CLI: 0 on a passing script, 1 on a safety violation, 2 on a bad script or flag', { timeout: 60_000 }, () => {
    const ok = cli('--script', example);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(`PASS script ${example} trace `);
    // A new master that promotes without waiting (broken on purpose) overlaps the old one.
    const unsafe = file('unsafe.json', { hosts: 3, disks: 3, brokenRule: 'promoteWithoutWait', healAtMs: 20_000, faults: [{ atMs: 6_000, kind: 'partition', sides: [[1], [2, 3]], durationMs: 6_000 }] });
    const broken = cli('--script', unsafe);
    expect(broken.status).toBe(EXIT_CODES.safety);
    expect(broken.stdout).toMatch(/violation two-masters-acting/);
    expect(broken.stdout).toContain(`replay: npm run sim -- --script ${unsafe} --trace`);
    const bad = cli('--script', file('bad.json', { hosts: 3, faults: [{ atMs: 1, kind: 'nuke' }] }));
    expect(bad.status).toBe(EXIT_CODES.usage);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^E_SCRIPT: faults\[0\]\.kind "nuke"/);
    const missing = cli('--script', join(dir, 'absent.json'));
    expect(missing.status).toBe(EXIT_CODES.usage);
    expect(missing.stderr).toMatch(/^E_SCRIPT: .*absent\.json: ENOENT/);
    expect(cli('--bogus').status).toBe(EXIT_CODES.usage);
    expect(cli('--help').stdout).toMatch(/exit status: 0 pass, 1 safety violation/);
  });
});
