// Network partitions for tests without leaving the root namespace: every host of the test
// cluster gets its own loopback address (127.0.9.x), and an nftables table named
// `ycs-test-<pid>-<n>` drops UDP between two groups of those addresses (heartbeat 1 only:
// the voting disk, the control sockets and heartbeat 2 are untouched, so "the disk is
// still shared"). Simpler and more robust than namespaces + veth + bridge for UDP on one
// machine; the table is deleted by heal() and, as a last resort, at process exit.
import { execFileSync } from 'node:child_process';

/** The loopback address of host `id` in partition tests (the whole 127/8 answers on lo). */
export function hostAddress(id: number): string {
  return `127.0.9.${id}`;
}

export interface Partition {
  table: string;
  /** Deletes the table: traffic flows again. Safe to call twice. */
  heal(): void;
}

const live = new Set<Partition>();
let counter = 0;

function nft(args: string[], input?: string): string {
  return execFileSync('nft', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function addressSet(addresses: string[]): string {
  return `{ ${addresses.join(', ')} }`;
}

/**
 * Drops UDP to `ports` between every address of `side` and every address of `rest`,
 * both ways, from now on (input hook: loopback traffic passes it once per packet).
 */
export function partition(side: string[], rest: string[], ports: number[]): Partition {
  const portSet = `{ ${ports.join(', ')} }`;
  return addTable((table) => [
    `table inet ${table} {`,
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    `    ip saddr ${addressSet(side)} ip daddr ${addressSet(rest)} udp dport ${portSet} counter drop`,
    `    ip saddr ${addressSet(rest)} ip daddr ${addressSet(side)} udp dport ${portSet} counter drop`,
    '  }',
    '}',
    '',
  ]);
}

/**
 * Drops every `protocol` packet to or from `ports` on this machine from now on (a host cut
 * off from a service over TCP, or a host's heartbeat-1 socket cut off from its peers over UDP).
 */
export function cutPorts(protocol: 'tcp' | 'udp', ports: number[]): Partition {
  return addTable((table) => [
    `table inet ${table} {`,
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    `    ${protocol} dport { ${ports.join(', ')} } counter drop`,
    `    ${protocol} sport { ${ports.join(', ')} } counter drop`,
    '  }',
    '}',
    '',
  ]);
}

function addTable(lines: (table: string) => string[]): Partition {
  const table = `ycs-test-${process.pid}-${++counter}`;
  nft(['-f', '-'], lines(table).join('\n'));
  const handle: Partition = {
    table,
    heal() {
      if (!live.delete(handle)) return;
      try {
        nft(['delete', 'table', 'inet', table]);
      } catch {
        // already gone
      }
    },
  };
  live.add(handle);
  return handle;
}

/** Packets the table dropped so far (both rules together). */
export function droppedPackets(p: Partition): number {
  const text = nft(['list', 'table', 'inet', p.table]);
  return [...text.matchAll(/counter packets (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/** Tables named ycs-test-* that exist now (a test checks it left none behind). */
export function testTables(): string[] {
  return nft(['list', 'tables']).split('\n').map((l) => /table inet (ycs-test-\S+)/.exec(l)?.[1]).filter((t): t is string => t !== undefined);
}

export function healAll(): void {
  for (const p of [...live]) p.heal();
}

process.once('exit', healAll);
