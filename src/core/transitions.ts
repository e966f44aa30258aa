// Every role transition of a host, in one table (pg_auto_failover style): the engine runs
// it and docs/transitions.md is generated from it (test/unit/core-transitions.test.ts
// checks the document matches and rewrites it with YCS_UPDATE_DOCS=1). A transition not
// in the table is a bug: the engine throws instead of inventing a role.

import { AssertionFailure, assert } from './assert.js';
import type { Role } from './types.js';

export type RoleEvent =
  | 'promote-ready' // a decision names this host master and every older master is stopped or fenced
  | 'decided-standby' // a decision names this host a member, another host master
  | 'decided-evicted' // a decision leaves this host out of the member set
  | 'window-expired' // no majority write or vote-area read started within the lease
  | 'reservation-conflict' // own I/O failed with RESERVATION CONFLICT: fenced by the master
  | 'resource-failed' // a resource crashed, went silent or failed its monitor on the master
  | 'cleaned-up' // an evicted host stopped its resources and reads/writes a disk majority again
  | 'lease-lost' // etcd mode: the master's store lease could not be renewed before its end
  | 'shutdown'; // the operator stops the daemon

export interface Transition {
  from: Role;
  event: RoleEvent;
  to: Role;
  reason: string;
}

export const TRANSITIONS: readonly Transition[] = [
  { from: 'starting', event: 'promote-ready', to: 'master', reason: 'elected master and every older master is stopped' },
  { from: 'starting', event: 'decided-standby', to: 'standby', reason: 'admitted to the cluster as a standby' },
  { from: 'starting', event: 'decided-evicted', to: 'starting', reason: 'not admitted yet; keeps asking to join' },
  { from: 'starting', event: 'reservation-conflict', to: 'starting', reason: 'fenced at the storage: asks to join over the network, re-registers once admitted' },
  { from: 'starting', event: 'shutdown', to: 'leaving', reason: 'operator asked the daemon to stop' },

  { from: 'standby', event: 'promote-ready', to: 'master', reason: 'elected master and every older master is stopped' },
  { from: 'standby', event: 'decided-standby', to: 'standby', reason: 'follows the new epoch as a standby' },
  { from: 'standby', event: 'decided-evicted', to: 'evicted', reason: 'a decision evicted this host' },
  { from: 'standby', event: 'window-expired', to: 'evicted', reason: 'could not write and read a majority of voting disks in time' },
  { from: 'standby', event: 'reservation-conflict', to: 'evicted', reason: 'storage rejects our writes: we are fenced' },
  { from: 'standby', event: 'shutdown', to: 'leaving', reason: 'operator asked the daemon to stop' },

  { from: 'master', event: 'promote-ready', to: 'master', reason: 'stays master in the new epoch' },
  { from: 'master', event: 'decided-standby', to: 'standby', reason: 'a newer decision names another master' },
  { from: 'master', event: 'decided-evicted', to: 'evicted', reason: 'a decision evicted this host' },
  { from: 'master', event: 'window-expired', to: 'evicted', reason: 'self-fence: no majority write or vote read within the lease' },
  { from: 'master', event: 'reservation-conflict', to: 'evicted', reason: 'storage rejects our writes: we are fenced' },
  { from: 'master', event: 'lease-lost', to: 'standby', reason: 'etcd mode: could not renew the lease in time; demoted before it could expire at the store' },
  { from: 'master', event: 'resource-failed', to: 'standby', reason: 'released the master role because a resource failed' },
  { from: 'master', event: 'shutdown', to: 'leaving', reason: 'operator asked the daemon to stop' },

  { from: 'evicted', event: 'promote-ready', to: 'master', reason: 'elected master and every older master is stopped' },
  { from: 'evicted', event: 'decided-standby', to: 'standby', reason: 'admitted to the cluster again as a standby' },
  { from: 'evicted', event: 'decided-evicted', to: 'evicted', reason: 'still outside the member set' },
  { from: 'evicted', event: 'reservation-conflict', to: 'evicted', reason: 'storage rejects our writes: we are fenced' },
  { from: 'evicted', event: 'cleaned-up', to: 'starting', reason: 'resources stopped and disks healthy: asks to rejoin' },
  { from: 'evicted', event: 'shutdown', to: 'leaving', reason: 'operator asked the daemon to stop' },
];

/** The table row for (from, event), or undefined when the event does not apply in that role. */
export function findTransition(from: Role, event: RoleEvent): Transition | undefined {
  return TRANSITIONS.find((t) => t.from === from && t.event === event);
}

/** The row for (from, event); throws when the engine fires an event the table does not allow. */
export function requireTransition(from: Role, event: RoleEvent): Transition {
  const row = findTransition(from, event);
  assert(row === undefined || TRANSITIONS.filter((t) => t.from === from && t.event === event).length === 1, () => `two rows for ${from} on ${event}`);
  if (row === undefined) {
    throw new AssertionFailure(`assertion failed: no role transition from '${from}' on '${event}'`);
  }
  return row;
}

/** docs/transitions.md, drawn from the table. */
export function renderTransitionsDoc(): string {
  const lines = [
    '# Role transitions',
    '',
    'Generated from `src/core/transitions.ts`; do not edit by hand. Regenerate with',
    '`YCS_UPDATE_DOCS=1 npx vitest run test/unit/core-transitions.test.ts` (the test fails when it is stale).',
    'An event not listed for a role is ignored by the engine in that role or is a bug (the engine throws).',
    '',
    '| From | Event | To | Reason |',
    '|---|---|---|---|',
  ];
  for (const t of TRANSITIONS) {
    lines.push(`| ${t.from} | ${t.event} | ${t.to} | ${t.reason} |`);
  }
  return lines.join('\n') + '\n';
}
