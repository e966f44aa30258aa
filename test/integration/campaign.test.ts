// The fault campaign in CI (issue 11; docs/campaign.md, bench/campaign/): three hosts of
// real processes with SCSI-3 PR fencing on tgtd, databases writing records to a shared
// iSCSI data LUN on their own nexus, a bounded number of faults drawn from a fixed seed
// (every kind: kills, freezes, partitions, voting-LUN stalls, packet loss). Asserts what
// the storage holds (0 checker violations), what the hosts said (0 dual primaries) and
// that every fault healed. A second run breaks the rules on purpose (no fencing and a
// database that keeps writing after its lease ran out) and must fail the checker: the
// campaign can fail. Needs root, tgtd and nft; runs the compiled daemon (`npm run build:ts`).
import { describe, expect, it } from 'vitest';
import { campaignTables } from '../../bench/campaign/nft.js';
import { reportText } from '../../bench/campaign/report.js';
import { runCampaign } from '../../bench/campaign/run.js';

const FAULTS = 22;
const SEED = 20261207;
/** Above the defaults: other test files load this machine at the same time. */
const TIMEOUT_MS = 3000;

describe('fault campaign on real processes with a storage checker', () => {
  it(`${FAULTS} faults (seed ${SEED}): 0 storage violations, 0 dual primaries, every fault healed`, async () => {
    const lines: string[] = [];
    const result = await runCampaign({ faults: FAULTS, seed: SEED, timeoutMs: TIMEOUT_MS, log: (l) => lines.push(l) });
    console.log([...lines, reportText(result, { faults: FAULTS, seed: SEED })].join('\n'));
    expect(result.faults).toHaveLength(FAULTS);
    expect(new Set(result.faults.map((f) => f.kind)).size).toBeGreaterThanOrEqual(8);
    expect(result.unhealed).toBe(0);
    expect(result.storage.violations).toEqual([]);
    expect(result.dualPrimaries).toEqual([]);
    expect(result.storage.records).toBeGreaterThan(100); // the databases did write, through the faults
    expect(result.storage.epochs).toBeGreaterThan(1);
    expect(campaignTables()).toEqual([]);
  }, 330_000);

  it('catches a real split brain: no fencing and a database that ignores its lease, master frozen past the timeouts', async () => {
    const lines: string[] = [];
    const result = await runCampaign({
      faults: 1, seed: 7, timeoutMs: TIMEOUT_MS, kinds: ['host-stop-long'], masterOnly: true, fencing: 'none', unsafeDb: true, log: (l) => lines.push(l),
    });
    console.log([...lines, reportText(result, { faults: 1, seed: 7, kinds: ['host-stop-long'] })].join('\n'));
    expect(result.unhealed).toBe(0);
    // The thawed old master's database wrote at its old epoch after the new master's first write.
    expect(result.storage.violations.some((v) => v.startsWith('(a)'))).toBe(true);
  }, 120_000);
});
