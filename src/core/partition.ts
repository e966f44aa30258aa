// Which hosts survive a network partition while all of them still see the voting disk
// (Oracle CSS's rule, driven from the disk): every host publishes the peers it hears over
// network heartbeat 1; two hosts are connected when each hears the other; the largest
// fully connected group survives. Ties: the group holding the old master, then the group
// with the lowest host id (then the lexicographically smallest id list, so the answer is
// a pure function of its inputs).

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

/** All maximal cliques (Bron-Kerbosch with pivoting); groups come out sorted ascending. */
export function maximalCliques(hosts: readonly HostId[], heardBy: HeardMap): HostId[][] {
  const neighbours = new Map<HostId, Set<HostId>>();
  for (const a of hosts) {
    neighbours.set(a, new Set(hosts.filter((b) => b !== a && mutuallyConnected(heardBy, a, b))));
  }
  const out: HostId[][] = [];
  const expand = (r: HostId[], p: Set<HostId>, x: Set<HostId>): void => {
    if (p.size === 0 && x.size === 0) {
      out.push([...r].sort((m, n) => m - n));
      return;
    }
    let pivot: HostId | undefined;
    let best = -1;
    for (const u of [...p, ...x]) {
      const count = [...p].filter((v) => neighbours.get(u)?.has(v)).length;
      if (count > best) {
        best = count;
        pivot = u;
      }
    }
    const pivotNeighbours = pivot === undefined ? new Set<HostId>() : (neighbours.get(pivot) ?? new Set<HostId>());
    for (const v of [...p].filter((w) => !pivotNeighbours.has(w))) {
      const nv = neighbours.get(v) ?? new Set<HostId>();
      expand([...r, v], new Set([...p].filter((w) => nv.has(w))), new Set([...x].filter((w) => nv.has(w))));
      p.delete(v);
      x.add(v);
    }
  };
  expand([], new Set(hosts), new Set());
  return out;
}

/**
 * The surviving group among `candidates` (hosts live on the disk). Returns them all when
 * they are fully connected; otherwise the best maximal clique by the rule above.
 */
export function chooseSurvivingGroup(
  candidates: readonly HostId[],
  heardBy: HeardMap,
  oldMasterId: HostId | 0,
): HostId[] {
  const hosts = [...new Set(candidates)].sort((a, b) => a - b);
  if (hosts.length === 0) return [];
  const complete = hosts.every((a) => hosts.every((b) => a === b || mutuallyConnected(heardBy, a, b)));
  if (complete) return hosts;
  const cliques = maximalCliques(hosts, heardBy);
  cliques.sort((a, b) => compareGroups(a, b, oldMasterId));
  const best = cliques[0];
  if (best === undefined) throw new Error('engine invariant: a non-empty host set has a clique');
  return best;
}
