// The soak's verdict figures, read from each host's /metrics (docs/metrics.md): evictions,
// role changes and heartbeat-2 timeouts, summed over their labels, and ycs's incarnation
// (a restart of ycs would reset the counters, so it is checked too).
export interface Counters {
  evictions: number;
  roleChanges: number;
  hb2Timeouts: number;
  incarnation: number;
}

/** The sum of every sample of `name` (any labels) in Prometheus text; 0 when absent. */
export function sumOf(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

export function countersOf(text: string): Counters {
  return {
    evictions: sumOf(text, 'ycs_evictions_total'),
    roleChanges: sumOf(text, 'ycs_role_changes_total'),
    hb2Timeouts: sumOf(text, 'ycs_heartbeat2_timeouts_total'),
    incarnation: sumOf(text, 'ycs_incarnation'),
  };
}

export async function scrape(httpUrl: string): Promise<Counters> {
  const answer = await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!answer.ok) throw new Error(`E_SOAK: ${httpUrl}/metrics answered ${answer.status}`);
  return countersOf(await answer.text());
}

/** What changed between two scrapes of one host. */
export function delta(a: Counters, b: Counters): Counters {
  return { evictions: b.evictions - a.evictions, roleChanges: b.roleChanges - a.roleChanges, hb2Timeouts: b.hb2Timeouts - a.hb2Timeouts, incarnation: b.incarnation - a.incarnation };
}
