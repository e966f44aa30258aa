// The local heartbeat between ycs and ycsm: newline-delimited JSON on a pipe that ycsm
// creates when it spawns ycs (fd given by YCSM_FD) or on a Unix socket (YCSM_SOCKET).
//   {"v":1,"type":"hb","seq":N,"pids":[{"pid":123,"start":"98765"}],"role":"standby"}   every interval
//                                     (role optional: ycs's role, for systemd's READY and STATUS)
//   {"v":1,"type":"stopping"}                                          normal stop begun
// `pids` are the database processes ycs manages; `start` is the process start time from
// /proc/PID/stat, so that ycsm never kills a recycled pid that now belongs to someone else.
import { readFileSync } from 'node:fs';

export const YCSM_FD_ENV = 'YCSM_FD';
export const YCSM_SOCKET_ENV = 'YCSM_SOCKET';
export const YCSM_INTERVAL_ENV = 'YCSM_INTERVAL_MS';

export interface ManagedPid {
  pid: number;
  start: string;
}

export type MonitorMessage =
  | { v: 1; type: 'hb'; seq: number; pids: ManagedPid[]; role?: string }
  | { v: 1; type: 'stopping' };

export function encodeMonitorMessage(message: MonitorMessage): string {
  return `${JSON.stringify(message)}\n`;
}

/** Parses one line; anything unexpected is null (ycsm ignores it, it is only a hint). */
export function decodeMonitorMessage(line: string): MonitorMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const m = value as Record<string, unknown>;
  if (m.v !== 1) return null;
  if (m.type === 'stopping') return { v: 1, type: 'stopping' };
  if (m.type !== 'hb' || typeof m.seq !== 'number' || !Array.isArray(m.pids)) return null;
  const pids = m.pids.filter(
    (p): p is ManagedPid =>
      typeof p === 'object' && p !== null && Number.isSafeInteger(p.pid) && p.pid > 1 && typeof p.start === 'string',
  );
  const role = typeof m.role === 'string' && /^[a-z]{1,16}$/.test(m.role) ? m.role : undefined;
  return role === undefined ? { v: 1, type: 'hb', seq: m.seq, pids } : { v: 1, type: 'hb', seq: m.seq, pids, role };
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19]; // field 22 overall = index 19 after (pid, comm)
  } catch {
    return undefined;
  }
}
