// Every seed that ever failed, with what it caught. sim.test.ts replays each one with the
// real engine on every CI run: entries with `expect: 'pass'` were engine bugs that must
// stay fixed; entries with `expect: 'violation'` run a deliberately broken rule and must
// keep being caught (by the named checker).
import type { Mode } from './knobs.js';

export interface Regression {
  seed: number;
  mode?: Mode;
  faultPhaseMs?: number;
  brokenRule?: string;
  expect: 'pass' | 'violation';
  /** The checker that fired (for 'violation': it must fire again). */
  checker: string;
  caught: string;
}

export const REGRESSIONS: Regression[] = [
  {
    seed: 176,
    faultPhaseMs: 10_000,
    expect: 'pass',
    checker: 'master-lost-after-heal',
    caught: 'simulator bug: the heal thawed paused hosts but left their queued inputs at the old resume time',
  },
  {
    seed: 2,
    faultPhaseMs: 12_000,
    brokenRule: 'skipPhase1Check',
    expect: 'violation',
    checker: 'decision-changed',
    caught: 'Disk Paxos without the phase-1 check: two proposers decide different values for one epoch',
  },
  {
    seed: 49,
    faultPhaseMs: 12_000,
    brokenRule: 'skipSelfFence',
    expect: 'violation',
    checker: 'two-masters-acting',
    caught: 'a master that keeps acting after its window expired overlaps the new master',
  },
  {
    seed: 134,
    faultPhaseMs: 12_000,
    brokenRule: 'promoteWithoutWait',
    expect: 'violation',
    checker: 'two-masters-acting',
    caught: 'a new master promoted without fencing or waiting overlaps the old one',
  },
];
