// The packaged unit's scheduling priority (packaging/ycsm.service: Nice=-10,
// IOSchedulingClass=realtime, IOSchedulingPriority=2) as a command prefix for the hosts of
// a local cluster, so that a benchmark's daemons are scheduled as installed ones are; or
// none (nice 0, like everything else on the machine).
export type Priority = 'unit' | 'none';

export function isPriority(value: unknown): value is Priority {
  return value === 'unit' || value === 'none';
}

const UNIT_PRIORITY = ['nice', '-n', '-10', 'ionice', '-c', '1', '-n', '2'];

/** startLocalCluster's option for `priority`. */
export function priorityOption(priority: Priority): { commandPrefix?: () => string[] } {
  return priority === 'unit' ? { commandPrefix: () => UNIT_PRIORITY } : {};
}

export function describePriority(priority: Priority): string {
  return priority === 'unit' ? 'as packaging/ycsm.service (nice -10, I/O class realtime 2)' : 'none (nice 0)';
}
