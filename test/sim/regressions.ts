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

export const REGRESSIONS: Regression[] = [];
