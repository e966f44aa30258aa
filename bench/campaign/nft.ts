// The campaign's network faults as nftables tables named `ycs-campaign-<pid>-<n>` on the
// heartbeat-1 UDP ports between the hosts' 127.0.9.x addresses (the disk, control sockets
// and heartbeat 2 stay untouched): a partition both ways, one way, or random packet loss
// (`numgen random mod 100 < P`; this kernel has no netem). Every table is deleted by its
// heal(), by healAllTables() and, as a last resort, at process exit.
import { execFileSync } from 'node:child_process';

export interface NftFault {
  table: string;
  heal(): void;
}

const live = new Set<NftFault>();
let counter = 0;

const set = (items: Array<string | number>): string => `{ ${items.join(', ')} }`;

function addTable(rules: string[]): NftFault {
  const table = `ycs-campaign-${process.pid}-${++counter}`;
  const text = [`table inet ${table} {`, '  chain input {', '    type filter hook input priority 0; policy accept;', ...rules.map((r) => `    ${r}`), '  }', '}', ''].join('\n');
  execFileSync('nft', ['-f', '-'], { input: text, stdio: ['pipe', 'pipe', 'pipe'] });
  const fault: NftFault = {
    table,
    heal() {
      if (!live.delete(fault)) return;
      try {
        execFileSync('nft', ['delete', 'table', 'inet', table], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    },
  };
  live.add(fault);
  return fault;
}

/** Drops heartbeat UDP from `from` to `to` (and back unless `oneWay`). */
export function partitionTable(from: string[], to: string[], ports: number[], oneWay: boolean): NftFault {
  const rules = [`ip saddr ${set(from)} ip daddr ${set(to)} udp dport ${set(ports)} counter drop`];
  if (!oneWay) rules.push(`ip saddr ${set(to)} ip daddr ${set(from)} udp dport ${set(ports)} counter drop`);
  return addTable(rules);
}

/** Drops `percent`% of heartbeat UDP among `addresses`, at random per packet. */
export function lossTable(addresses: string[], ports: number[], percent: number): NftFault {
  return addTable([`ip saddr ${set(addresses)} ip daddr ${set(addresses)} udp dport ${set(ports)} numgen random mod 100 < ${percent} counter drop`]);
}

export function healAllTables(): void {
  for (const f of [...live]) f.heal();
}

/** Tables of this process still present (the CI test checks none are left). */
export function campaignTables(): string[] {
  const text = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  return text.split('\n').map((l) => /table inet (ycs-campaign-\d+-\d+)/.exec(l)?.[1]).filter((t): t is string => t !== undefined && t.startsWith(`ycs-campaign-${process.pid}-`));
}

process.once('exit', healAllTables);
