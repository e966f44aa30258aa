// The A/B rule for vote sectors (docs/disk-layout.md, "Two vote copies"): which copy a
// reader trusts and which copy a writer overwrites. Pure; shared by the daemon's
// VotingDisk and the simulator's disk model so both follow one rule.
import type { SlotRead, SlotVerdict } from '../core/types.js';
import { YcsError } from '../errors.js';

/**
 * How bad a verdict is when no copy is 'ok': anything but 'empty' beats 'empty', so a
 * torn copy beside an empty one never reads as a never-written (clean) slot.
 */
const VERDICT_SEVERITY: Record<SlotVerdict, number> = {
  ok: 0, empty: 1, 'crc-mismatch': 2, corrupt: 3, misplaced: 4, foreign: 5, 'future-version': 6,
};

function newer<P>(a: SlotRead<P>, b: SlotRead<P>): boolean {
  const x = a.record!;
  const y = b.record!;
  return x.incarnation > y.incarnation || (x.incarnation === y.incarnation && x.sequence > y.sequence);
}

/**
 * A host's vote from its copies: the 'ok' copy with the highest (incarnation, sequence)
 * (copy A on a tie); when no copy is 'ok', the worst verdict, never trusted. Falling back
 * to the older copy is safe: the newer one can only be damaged by a write that failed
 * and so was never acknowledged (voteCopyToWrite never writes over the durable copy).
 */
export function chooseCopy<P>(copies: ReadonlyArray<SlotRead<P>>): SlotRead<P> {
  let best: SlotRead<P> | undefined;
  let worst: SlotRead<P> | undefined;
  for (const copy of copies) {
    if (copy.verdict === 'ok' && copy.record !== undefined) {
      if (best === undefined || newer(copy, best)) best = copy;
    } else if (worst === undefined || VERDICT_SEVERITY[copy.verdict] > VERDICT_SEVERITY[worst.verdict]) {
      worst = copy;
    }
  }
  const chosen = best ?? worst;
  if (chosen === undefined) throw new YcsError('E_INTERNAL', 'chooseCopy needs at least one copy');
  return chosen;
}

/**
 * Which copy the next vote write goes to: never the one holding the newest 'ok' record
 * (the last durable state), so a torn write destroys at most the copy being written.
 * Copy A when no copy is 'ok'. The writer keeps the answer until a write is acknowledged
 * (a failed write goes to the same copy again; see VotingDisk.writeVote).
 */
export function voteCopyToWrite<P>(copies: ReadonlyArray<SlotRead<P>>): number {
  const chosen = chooseCopy(copies);
  if (chosen.verdict !== 'ok') return 0;
  return (copies.indexOf(chosen) + 1) % copies.length;
}
