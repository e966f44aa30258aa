// The campaign report: per fault kind the count and p50/p99/max of "writes resumed" and
// "healthy again", the storage checker's verdict, the dual primaries seen by the poller,
// and for a failing run its seed and the command that replays it.
import { percentile, ms, table } from '../failover/stats.js';
import { FAULT_KINDS } from './faults.js';
import { campaignFailed, replayCommand, type CampaignOptions, type CampaignResult } from './run.js';

function stats(xs: number[]): string[] {
  return xs.length === 0 ? ['-', '-', '-'] : [ms(percentile(xs, 50)), ms(percentile(xs, 99)), ms(Math.max(...xs))];
}

export function reportText(r: CampaignResult, o: Pick<CampaignOptions, 'faults' | 'seed' | 'kinds'>): string {
  const lines: string[] = [];
  lines.push(`campaign seed ${r.seed}: ${r.faults.length} of ${o.faults} faults in ${(r.wallMs / 1000).toFixed(0)} s (${replayCommand(o)})`);
  const rows = FAULT_KINDS.filter((k) => r.faults.some((f) => f.kind === k.name)).map((k) => {
    const mine = r.faults.filter((f) => f.kind === k.name);
    const healed = mine.filter((f) => f.recoveredMs !== undefined);
    const failovers = mine.filter((f) => f.masterAfter !== undefined && f.masterAfter !== f.masterBefore).length;
    return [k.name, String(mine.length), String(failovers), ...stats(healed.flatMap((f) => (f.resumedMs === undefined ? [] : [f.resumedMs]))), ...stats(healed.map((f) => f.recoveredMs as number)), String(mine.length - healed.length)];
  });
  lines.push(table(['kind', 'faults', 'new master', 'writes p50', 'p99', 'max', 'healthy p50', 'p99', 'max', 'unhealed'], rows));
  lines.push('  writes: fault to the first write acknowledged after it by the final master (while the agreed master): the write outage; healthy: fault (hold and heal included) to all three members, every database connected, the master writing');
  const s = r.storage;
  lines.push(`storage checker: ${s.records} records on the data LUN, ${s.acked} acknowledged writes, ${s.epochs} epochs with writes: ${s.violations.length} violations`);
  for (const v of s.violations.slice(0, 20)) lines.push(`  VIOLATION ${v}`);
  lines.push(`dual primaries (two unfrozen hosts each saying its resource is primary in one 100 ms poll round): ${r.dualPrimaries.length} in ${r.pollRounds} rounds`);
  for (const d of r.dualPrimaries.slice(0, 20)) lines.push(`  DUAL PRIMARY at ${new Date(d.atMs).toISOString()}: hosts ${d.hosts.join(' and ')} (epochs ${d.epochs.join(', ')}) during ${d.fault}`);
  for (const f of r.faults.filter((x) => x.recoveredMs === undefined)) lines.push(`  UNHEALED fault ${f.index + 1} ${f.kind}: ${f.detail}: ${f.error ?? ''}`);
  if (r.unhealed > 0) lines.push(`faults not healed or not run: ${r.unhealed}`);
  if (campaignFailed(r)) lines.push(`FAILED: seed ${r.seed}; replay with: ${replayCommand(o)}`);
  else lines.push('PASSED: 0 storage violations, 0 dual primaries, every fault healed');
  return lines.join('\n');
}
