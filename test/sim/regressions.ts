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
  lyingDiskOdds?: number;
  stress?: boolean;
  /**
   * The fault model the seed was found with (RunOptions.faultModel): entries from before
   * wedges existed replay model 1, so their schedules stay exactly what they caught.
   */
  faultModel?: 1 | 2;
  /** etcd mode (RunOptions.etcd, the store binding): replayed by sim-etcd.test.ts. */
  etcd?: boolean;
  expect: 'pass' | 'violation';
  /** The checker that fired (for 'violation': it must fire again). */
  checker: string;
  caught: string;
}

export const REGRESSIONS: Regression[] = [
  {
    seed: 159,
    etcd: true,
    expect: 'pass',
    checker: 'master-not-record-holder',
    caught:
      'store engine: a master whose database crashed gave the term up (resign in flight) and re-adopted its own record ' +
      'from a read sent before the resign; its keepalive reached etcd first, then the resign deleted the record while it ' +
      'was master again, and host 1 won; fixed in cd8792d (adopt only before the first campaign or term)',
  },
  {
    seed: 276,
    etcd: true,
    expect: 'pass',
    checker: 'master-not-record-holder',
    caught:
      'store engine: a campaign took effect but its answer was lost; the engine adopted its own record from a read and ' +
      'became master, then the shell\'s revoke of the unanswered campaign deleted the record; fixed in cd8792d',
  },
  {
    seed: 1105,
    etcd: true,
    faultPhaseMs: 12_000,
    expect: 'pass',
    checker: 'master-not-record-holder',
    caught:
      'store engine: a master demoted itself and sent a resign, then its ycs was killed; the restarted ycs read its ' +
      'own record, adopted the lease with a keepalive, and the old run\'s resign landed after it: master without a ' +
      'record. Fixed: adoption only from a read sent one call deadline after the start',
  },
  {
    seed: 14,
    etcd: true,
    faultPhaseMs: 12_000,
    brokenRule: 'skipSelfFence',
    expect: 'violation',
    checker: 'master-not-record-holder',
    caught: 'etcd mode: a master that keeps acting past its term acts while etcd shows the record gone or held by another host',
  },
  {
    seed: 176,
    faultModel: 1,
    faultPhaseMs: 10_000,
    expect: 'pass',
    checker: 'master-lost-after-heal',
    caught: 'simulator bug: the heal thawed paused hosts but left their queued inputs at the old resume time',
  },
  {
    seed: 26349,
    faultModel: 1,
    faultPhaseMs: 12_000,
    expect: 'pass',
    checker: 'master-lost-after-heal',
    caught:
      'simulator too strict: a fencing race right after the heal (a stale epoch-2 master fenced the epoch-3 master) ' +
      'lost the first master; liveness now asks for a master that holds 3 s within the bound, which the engine meets',
  },
  {
    seed: 162,
    brokenRule: 'fenceWithoutRead+preemptAnyKey',
    expect: 'violation',
    checker: 'stale-preempt',
    caught:
      'fences emitted at adoption and never withdrawn, and every key of the victim preempted whatever its epoch: a ' +
      'fence of epoch 9 removes a key registered for epoch 13 (either rule alone no longer shows: epoch-carrying keys ' +
      'refuse what the read misses; seed 2969 caught fenceWithoutRead alone before keys carried epochs)',
  },
  {
    seed: 5296,
    expect: 'pass',
    checker: 'stale-preempt',
    caught:
      'engine: host 5 (master of epoch 10) queued the fence of host 7 behind its register/reserve steps; host 1 ' +
      'decided epoch 11 readmitting host 7 140 ms before the PREEMPT landed, which host 5 had not read yet. Fixed ' +
      'with epoch-carrying keys: host 7 re-keys for epoch 11, a fence may remove only keys of older epochs, and a ' +
      'readmitted host acts only under its new key (residual of the 20,000-seed sweep, with seed 7312; the rekeys ' +
      'change the schedule, so the seed now replays a neighbouring run, kept as a pass)',
  },
  {
    seed: 7312,
    expect: 'pass',
    checker: 'stale-preempt',
    caught: 'the same race as seed 5296 (a PREEMPT sent just before another host decided a newer epoch the fencer had not read)',
  },
  {
    seed: 2969,
    expect: 'pass',
    checker: 'stale-preempt',
    caught:
      'engine: a master emitted its fences when it adopted epoch 3; the fence of host 6 waited in the shell\'s queue ' +
      'while the host learned epoch 4 (host 6 a member), then preempted it anyway: any registrant may preempt. 116 of ' +
      '3,000 sweep seeds did this; fixed: fences wait for a majority read issued after the adoption, and the shell asks ' +
      'fenceWanted just before each PREEMPT',
  },
  {
    seed: 169,
    expect: 'pass',
    checker: 'stale-preempt',
    caught:
      'engine: the master of epoch 5 queued five fences after one read; the fourth ran after another host had decided ' +
      'epoch 6 (which the fencer had not read yet) and preempted one of its members. Fixed: fences one at a time, each ' +
      'after a read issued since the previous one answered',
  },
  {
    seed: 16007,
    expect: 'pass',
    checker: 'stale-preempt',
    caught:
      'engine: a master\'s PREEMPT of host 3 (epoch 20) was already sent when the same master decided epoch 21 ' +
      'admitting host 3, and then landed. Fixed: no member-set proposal while a fence is pending or in flight, and a ' +
      'fence in flight across a new decision holds back the next one',
  },
  {
    seed: 206,
    expect: 'pass',
    checker: 'no-master-after-heal',
    caught:
      'engine: a master whose reserve met a session reset lost its key, was refused its writes and released the role; ' +
      'as the decided master of the current epoch it never registered again, so it could not vote and nobody could ' +
      'decide a new epoch. Fixed: a starting host registers again when a fresh read admits it, also as the decided master',
  },
  {
    seed: 1,
    faultModel: 1,
    faultPhaseMs: 12_000,
    brokenRule: 'skipPhase1Check',
    expect: 'violation',
    checker: 'decision-changed',
    caught: 'Disk Paxos without the phase-1 check: two proposers decide different values for one epoch',
  },
  {
    seed: 489,
    faultModel: 1,
    faultPhaseMs: 12_000,
    expect: 'pass',
    checker: 'no-master-after-heal',
    caught:
      'a vote sector torn by one host\'s lost path, owner then fenced: no clean disk majority ever again ' +
      '(model fixed: a lost path no longer tears; a failing device still can)',
  },
  {
    seed: 5113,
    faultModel: 1,
    faultPhaseMs: 12_000,
    expect: 'pass',
    checker: 'two-primaries-acting',
    caught:
      'engine: a master frozen while a resource promote is in flight resumes with its window expired; ' +
      'it self-fences but queues the stop behind the promote, so the old database becomes primary (epoch 5) ' +
      'beside the new master\'s (epoch 6); stop must supersede an in-flight promote (fencing none); fixed in a2a88c0',
  },
  {
    seed: 5272,
    faultModel: 1,
    faultPhaseMs: 12_000,
    expect: 'pass',
    checker: 'two-primaries-acting',
    caught: 'engine: same as seed 5113 (promote in flight across a pause, thawed by the heal), 5 hosts, 3 disks',
  },
  {
    seed: 24069,
    faultModel: 1,
    faultPhaseMs: 12_000,
    expect: 'pass',
    checker: 'two-primaries-acting',
    caught: 'engine: same as seed 5113 (3 hosts, 3 disks, timeouts v2); also shows host 3 deciding {master 2, members [2]} for a paused master',
  },
  {
    seed: 20857,
    faultModel: 1,
    faultPhaseMs: 12_000,
    expect: 'pass',
    checker: 'no-master-after-heal',
    caught:
      'engine: a failing device tore host 3\'s vote slot on the only disk; after restart host 3 cannot recover ' +
      'its own block (no clean copy), so it never rewrites the slot, and no host ever has a clean disk majority again; fixed in a2a88c0',
  },
  {
    seed: 102542,
    faultModel: 1,
    faultPhaseMs: 20_000,
    stress: true,
    expect: 'pass',
    checker: 'stale-master-acting',
    caught:
      'engine: 1 host, 1 disk; a failing device tore the host\'s own vote slot (the only copy of decided epoch 2); ' +
      'after a crash the grace fallback recovered the torn slot as an empty block and decided epoch 1 again: the ' +
      'decision history and the epoch (the fencing token) went back. Fixed by two vote copies (A/B) per host: a write ' +
      'never goes over the copy holding the last acknowledged record, so the tear hits copy A and copy B still holds ' +
      'epoch 2; the fallback now also refuses to recover below any epoch a trusted sector shows',
  },
  {
    seed: 2,
    faultPhaseMs: 12_000,
    lyingDiskOdds: 0.3,
    expect: 'violation',
    checker: 'decision-changed',
    caught:
      'a lying disk (writes reported durable but lost) breaks Disk Paxos: epoch 5 decided twice (seeds 78, then 59 showed it ' +
      'until interleavings changed; with out-of-cycle heartbeats 7 of seeds 1..300 catch a lying disk)',
  },
  {
    seed: 49,
    faultModel: 1,
    faultPhaseMs: 12_000,
    brokenRule: 'skipSelfFence',
    expect: 'violation',
    checker: 'two-masters-acting',
    caught: 'a master that keeps acting after its window expired overlaps the new master',
  },
  {
    seed: 2,
    faultModel: 1,
    faultPhaseMs: 12_000,
    brokenRule: 'promoteWithoutWait',
    expect: 'violation',
    checker: 'two-masters-acting',
    caught: 'a new master promoted without fencing or waiting overlaps the old one',
  },
];
