// Which hosts survive a network partition while all of them still see the voting disk
// (Oracle CSS's rule, driven from the disk): every host publishes the peers it hears over
// network heartbeat 1; two hosts are connected when each hears the other; the largest
// fully connected group survives. Ties: the group holding the old master, then the group
// with the lowest host id (then the lexicographically smallest id list, so the answer is
// a pure function of its inputs).

import { assert } from './assert.js';
import type { HostId } from './types.js';

/** heardBy.get(a) = the peers a reports hearing. */
export type HeardMap = ReadonlyMap<HostId, ReadonlySet<HostId>>;

export function mutuallyConnected(heardBy: HeardMap, a: HostId, b: HostId): boolean {
  return (heardBy.get(a)?.has(b) ?? false) && (heardBy.get(b)?.has(a) ?? false);
}

function compareGroups(a: HostId[], b: HostId[], oldMasterId: HostId | 0): number {
  if (a.length !== b.length) return b.length - a.length;
  const aHasMaster = oldMasterId !== 0 && a.includes(oldMasterId);
  const bHasMaster = oldMasterId !== 0 && b.includes(oldMasterId);
  if (aHasMaster !== bHasMaster) return aHasMaster ? -1 : 1;
  for (let i = 0; i < a.length; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Search budget: the answer stays a deterministic function of the inputs, never exponential. */
export const CLIQUE_SEARCH_BUDGET = 100_000;

function neighbourSets(hosts: readonly HostId[], heardBy: HeardMap): Map<HostId, Set<HostId>> {
  const neighbours = new Map<HostId, Set<HostId>>();
  for (const a of hosts) neighbours.set(a, new Set());
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) {
      const a = hosts[i] as HostId;
      const b = hosts[j] as HostId;
      if (mutuallyConnected(heardBy, a, b)) {
        neighbours.get(a)?.add(b);
        neighbours.get(b)?.add(a);
      }
    }
  }
  return neighbours;
}

/** Connected components when every one of them is fully connected (the usual partition), else null. */
function cliqueComponents(hosts: readonly HostId[], neighbours: Map<HostId, Set<HostId>>): HostId[][] | null {
  const seen = new Set<HostId>();
  const groups: HostId[][] = [];
  for (const start of hosts) {
    if (seen.has(start)) continue;
    const group: HostId[] = [];
    const stack = [start];
    seen.add(start);
    while (stack.length > 0) {
      const v = stack.pop() as HostId;
      group.push(v);
      for (const w of neighbours.get(v) ?? []) {
        if (!seen.has(w)) {
          seen.add(w);
          stack.push(w);
        }
      }
    }
    if (group.some((v) => (neighbours.get(v)?.size ?? 0) !== group.length - 1)) return null;
    groups.push(group.sort((a, b) => a - b));
  }
  return groups;
}

/**
 * Branch and bound over cliques, best first by the tie-break order. Hosts are tried by
 * degree (then id), branches that cannot reach the best size are cut, and the search
 * stops after CLIQUE_SEARCH_BUDGET expansions with the best group found so far.
 */
function searchBestClique(hosts: readonly HostId[], neighbours: Map<HostId, Set<HostId>>, oldMasterId: HostId | 0): HostId[] {
  const order = [...hosts].sort((a, b) => (neighbours.get(b)?.size ?? 0) - (neighbours.get(a)?.size ?? 0) || a - b);
  let best: HostId[] = [];
  let expansions = 0;
  const expand = (r: HostId[], p: HostId[]): void => {
    if (expansions++ >= CLIQUE_SEARCH_BUDGET) return;
    if (p.length === 0) {
      const group = [...r].sort((a, b) => a - b);
      if (best.length === 0 || compareGroups(group, best, oldMasterId) < 0) best = group;
      return;
    }
    for (let i = 0; i < p.length; i++) {
      if (r.length + (p.length - i) < best.length) return;
      const v = p[i] as HostId;
      const nv = neighbours.get(v) ?? new Set<HostId>();
      expand([...r, v], p.slice(i + 1).filter((w) => nv.has(w)));
    }
  };
  expand([], order);
  return best;
}

/**
 * The surviving group among `candidates` (hosts live on the disk). Returns them all when
 * they are fully connected; otherwise the best clique by the rule above.
 */
export function chooseSurvivingGroup(
  candidates: readonly HostId[],
  heardBy: HeardMap,
  oldMasterId: HostId | 0,
): HostId[] {
  const hosts = [...new Set(candidates)].sort((a, b) => a - b);
  if (hosts.length === 0) return [];
  const neighbours = neighbourSets(hosts, heardBy);
  const components = cliqueComponents(hosts, neighbours);
  const best = components !== null
    ? components.sort((a, b) => compareGroups(a, b, oldMasterId))[0]
    : searchBestClique(hosts, neighbours, oldMasterId);
  assert(best !== undefined && best.length > 0, 'a non-empty host set has a clique');
  assert(best.every((a) => best.every((b) => a === b || mutuallyConnected(heardBy, a, b))), () => `surviving group ${best.join(',')} is not all connected`);
  return best;
}
