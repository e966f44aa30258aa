// The short soak (issue 11 part 3; the long one is `npm run soak -- --minutes 10`): three
// hosts of real processes (ycsm -> ycs -> demo database, a loop device as the voting
// disk, the default timeouts, ycs at the packaged unit's priority) run for 75 s while
// stress-ng keeps every core busy, allocates memory and writes synchronously to a file of
// its own, and clients poll /primary every 100 ms, scrape /metrics and ask `status`.
// Nothing may happen: 0 evictions, 0 role changes, 0 heartbeat-2 timeouts, no ycs restart,
// one primary in every health-check round. Needs root and stress-ng; runs the compiled
// daemon (`npm run build` first). bench/soak/ holds the parts.
import { describe, expect, it } from 'vitest';
import { describeSoak, runSoak } from '../../bench/soak/run.js';

const SOAK_SECONDS = 75;

describe('soak under CPU, memory and fsync saturation', () => {
  it(`${SOAK_SECONDS} s: no eviction, no role change, no heartbeat-2 timeout`, async () => {
    const result = await runSoak({ seconds: SOAK_SECONDS, priority: 'unit' });
    console.log(describeSoak(result).join('\n'));
    expect(result.cpuBusy).toBeGreaterThan(0.9); // the load did saturate the machine
    expect(result.totals).toEqual({ evictions: 0, roleChanges: 0, hb2Timeouts: 0, incarnation: 0 });
    expect(result.loggedRoleChanges).toBe(0);
    expect(result.loggedEvictions).toBe(0);
    expect(result.workload.masters).toHaveLength(1);
    expect(result.workload.epochs).toHaveLength(1);
    expect(result.workload.healthGaps).toBe(0);
    expect(result.workload.statusErrors).toBe(0);
    expect(result.dataLines).toBeGreaterThan(0); // the primary kept writing
    expect(result.dataViolations).toEqual([]);
  }, (SOAK_SECONDS + 90) * 1000);
});
