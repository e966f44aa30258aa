// npm run soak [-- --minutes 10] [--priority unit|none] [--no-load]
//
// The long soak of issue 11: a three-host cluster of real processes under stress-ng (every
// core busy, memory allocation, synchronous 4 KiB writes and sync() to a file of its own)
// and a steady client workload, for N minutes (default 10). Prints evictions, role changes
// and heartbeat-2 timeouts (target 0 of each) and the margins (largest heartbeat ages,
// event-loop lag); exits 1 when any is not 0. Needs root (loop device) and stress-ng
// (scripts/setup-debian.sh). It saturates the machine: run it under
// `flock /tmp/ycs-heavy.lock`. Bench modules: bench/soak/.
import { parseArgs } from 'node:util';
import type { FailoverFixture } from '../test/helpers/cluster-fixture.js';
import type { Load } from './soak/load.js';
import { isPriority, type Priority } from './priority.js';
import { describeSoak, runSoak, soakClean } from './soak/run.js';
import { isYcsError } from '../src/errors.js';

const { values } = parseArgs({ options: { minutes: { type: 'string' }, priority: { type: 'string' }, 'no-load': { type: 'boolean' } } });
const minutes = Number(values.minutes ?? 10);
const priorityValue = values.priority ?? 'unit';
if (!(minutes > 0) || !isPriority(priorityValue)) {
  process.stderr.write('E_INVALID_ARGUMENT: --minutes takes a positive number, --priority unit or none\n');
  process.exit(2);
}
const priority: Priority = priorityValue;

let fixture: FailoverFixture | undefined;
let currentLoad: () => Load | undefined = () => undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: cleaning up\n`);
    void Promise.resolve(currentLoad()?.stop()).then(() => fixture?.cleanup()).finally(() => process.exit(130));
  });
}

try {
  const result = await runSoak({
    seconds: Math.round(minutes * 60),
    load: values['no-load'] !== true,
    priority,
    onStarted: (fx, load) => { fixture = fx; currentLoad = load; },
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${describeSoak(result).join('\n')}\n`);
  for (const [id, c] of result.counters) process.stdout.write(`  host ${id}: evictions ${c.evictions}, role changes ${c.roleChanges}, hb2 timeouts ${c.hb2Timeouts}\n`);
  process.exitCode = soakClean(result) ? 0 : 1;
} catch (err) {
  process.stderr.write(`${isYcsError(err) ? err.toLine() : `E_SOAK: ${err instanceof Error ? err.message : String(err)}`}\n`);
  process.exitCode = 1;
}
