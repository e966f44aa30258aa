// The listener's thread gives way to the daemon's loop: a thread inherits its creator's
// scheduling priority, and the packaged unit raises the daemon's (Nice=-10) for its
// heartbeats' sake, not for formatting scrapes. On Linux the nice value belongs to a thread
// (setpriority on a thread id changes that thread only), so the thread lowers its own to
// the machine's normal priority and never raises it: at nice 0 it still answers a load
// balancer under a CPU-bound load, and where the daemon runs at 0 nothing changes.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The highest priority the listener's thread keeps (0: the machine's normal one). */
export const LISTENER_NICE = 0;

export interface ThreadPriority {
  /** The thread's id (a directory under /proc/self/task). */
  tid: number;
  /** Its nice value before and after. */
  inherited: number;
  nice: number;
}

/** The calling thread's id, from /proc/thread-self (`<pid>/task/<tid>`). */
function threadId(): number {
  return Number(readlinkSync('/proc/thread-self').split('/').pop());
}

/** Lowers the calling thread to nice `floor` if it runs above it; null where threads have no nice of their own. */
export function lowerThreadPriority(floor = LISTENER_NICE): ThreadPriority | null {
  if (process.platform !== 'linux') return null;
  const tid = threadId();
  const inherited = getPriority(tid);
  if (inherited < floor) setPriority(tid, floor);
  return { tid, inherited, nice: getPriority(tid) };
}
