// "Merely slow" is not dead: with the default timeouts, a host whose event loop or disk
// I/O stalls for up to slowSpikeMs (1 s) must never be evicted, and the master must not
// change. Each run settles a quiet cluster, then hits one random host at a time with one
// spike, every 1.5..4 s, for 30 s of simulated time.
import type { EngineBinding } from './binding.js';
import { reportKnobs, settle } from './report.js';
import { runChecked } from './sim.js';
import { World } from './world.js';

const SPIKE_PHASE_MS = 30_000;

export interface SlowResult {
  spikes: number;
  problems: string[];
}

export function slowHostSample(seed: number, binding: EngineBinding): SlowResult {
  const fencing = seed % 2 === 0 ? 'pr' : 'none';
  const w = new World(reportKnobs(seed, binding, fencing), binding, { trace: false });
  for (const h of w.hosts) w.at(w.rng.host.range(0, 500), { code: 'boot', host: 0, gate: 'none', inc: -1, run: () => h.start() });
  const master = settle(w);
  if (!master) return { spikes: 0, problems: ['no stable master before the spikes'] };
  const settledAtMs = w.now;
  const masterEventsBefore = w.check.masterEvents.length;
  const evictionsBefore = w.check.evictions.length;
  const rng = w.rng.faults;
  const spikeMs = w.timeouts.maxSlowMs;
  let spikes = 0;
  while (w.now < settledAtMs + SPIKE_PHASE_MS && !w.check.failed) {
    runChecked(w, w.now + rng.range(1_500, 4_000));
    const victim = rng.pick(w.hosts);
    const lengthMs = rng.range(0.3, 1) * spikeMs;
    if (rng.chance(0.5)) victim.freeze(lengthMs, false);
    else for (const d of w.disks) d.stalls.push({ hosts: new Set([victim.id]), fromMs: w.now, untilMs: w.now + lengthMs });
    spikes += 1;
  }
  runChecked(w, w.now + 5_000);
  const problems = w.check.violations.map((v) => `${v.code} (host ${v.host}): ${v.detail}`);
  for (const e of w.check.evictions.slice(evictionsBefore)) problems.push(`false eviction of host ${e.host} at ${e.atMs.toFixed(0)} ms: ${e.reason}`);
  for (const m of w.check.masterEvents.slice(masterEventsBefore)) {
    if (m.host !== master.id) problems.push(`master changed to host ${m.host} at ${m.atMs.toFixed(0)} ms`);
  }
  return { spikes, problems };
}

export function slowHostReport(binding: EngineBinding, runs: number, firstSeed = 1): string[] {
  let spikes = 0;
  const problems: string[] = [];
  for (let i = 0; i < runs; i++) {
    const r = slowHostSample(firstSeed + i, binding);
    spikes += r.spikes;
    for (const p of r.problems) problems.push(`seed ${firstSeed + i}: ${p}`);
  }
  return [`slow hosts (spikes <= slowSpikeMs, default timeouts): ${runs} runs, ${spikes} spikes, ${problems.length} false evictions or violations`, ...problems.slice(0, 10)];
}
