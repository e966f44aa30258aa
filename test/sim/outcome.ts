// How a simulator run ended, and the exit status that says so (main.ts, docs/simulator.md).
import type { RunResult } from './sim.js';

/** The simulator's exit statuses (documented in docs/simulator.md and --help). */
export const EXIT_CODES = { pass: 0, safety: 1, usage: 2, liveness: 3, crash: 4 } as const;
export type Outcome = keyof typeof EXIT_CODES;

/** How a finished run ended: a liveness failure, a crash, or (any other checker) a safety violation. */
export function outcomeOf(r: RunResult): Outcome {
  const code = r.violations[0]?.code;
  if (code === undefined) return 'pass';
  if (code === 'engine-threw') return 'crash';
  if (code === 'no-master-after-heal') return 'liveness';
  return 'safety';
}

/** The most serious of several outcomes (safety, then crash, then liveness). */
export function worst(outcomes: Outcome[]): Outcome {
  for (const o of ['safety', 'crash', 'liveness'] as const) if (outcomes.includes(o)) return o;
  return 'pass';
}
