// Process-tree helpers for the failover tests: find a host's processes from /proc (ycsm,
// the ycs it started, agent shells, and the setsid'd databases whose pids the agents
// write to pid files), freeze and thaw them together, wait for them to exit.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** Single-letter state: R, S, D, T (stopped), Z (zombie), ... */
  state: string;
  /** Field 22 of /proc/PID/stat: distinguishes a recycled pid from the process we meant. */
  startTime: string;
}

/** /proc/PID/stat parsed, or undefined when the process is gone. */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: rest[0] ?? '?', ppid: Number(rest[1]), startTime: rest[19] ?? '' };
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat !== undefined) stats.push(stat);
  }
  return stats;
}

/** `roots` and every process below them, parents before children. */
export function processTree(roots: number[]): number[] {
  const stats = allStats();
  const children = new Map<number, number[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  const alive = new Set(stats.map((s) => s.pid));
  const out: number[] = [];
  const queue = roots.filter((pid) => alive.has(pid));
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (out.includes(pid)) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** True while the pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** True when the process is stopped by a signal (state T). */
export function isStopped(pid: number): boolean {
  return procStat(pid)?.state === 'T';
}

/** Sends `signal` to every pid; returns the pids it reached. */
export function signalAll(pids: number[], signal: NodeJS.Signals): number[] {
  const reached: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
      reached.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return reached;
}

/**
 * Freezes a set of processes the way a hung host freezes: SIGSTOP to all of them, then
 * once more to anything they forked meanwhile, until the tree stops growing.
 */
export function freezeTree(roots: number[]): number[] {
  const frozen = new Set<number>();
  for (let round = 0; round < 5; round++) {
    const tree = processTree(roots).filter((pid) => !frozen.has(pid));
    if (tree.length === 0) break;
    for (const pid of signalAll(tree, 'SIGSTOP')) frozen.add(pid);
  }
  return [...frozen];
}

/** Waits until `pid` has exited (or is a zombie); false after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(20);
  }
  return !isAlive(pid);
}

/** Pids of processes whose command line contains `text` (e.g. a test's scratch directory). */
export function pidsMentioning(text: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(text)) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Kills everything that mentions `text` in its command line: thawed first (a stopped
 * process does not die of SIGTERM, and SIGKILL of a stopped one leaves its peers
 * waiting), then SIGKILL. Returns what it killed.
 */
export async function killAllMentioning(text: string): Promise<number[]> {
  const pids = pidsMentioning(text);
  signalAll(pids, 'SIGCONT');
  signalAll(pids, 'SIGKILL');
  await Promise.all(pids.map((pid) => waitForExit(pid, 2000)));
  return pids;
}
