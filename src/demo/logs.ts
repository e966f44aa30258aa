// Following the JSON log files of a local cluster (ycsm + ycs per host, and each demo
// database's own log) and picking out the lines that tell the story of a failover.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { LOG_ABNORMAL, LOG_JOIN, LOG_PRIMARY } from '../core/engine.js';
import { LOG_CHOSEN, LOG_PROPOSING } from '../core/proposer.js';

export interface LogRecord {
  time: number; // unix ms (pino's `time`)
  msg: string;
  proc?: string;
  subsystem?: string;
  [key: string]: unknown;
}

export interface TailSource {
  hostId: number;
  path: string;
}

/** Polls files for appended lines; starts at each file's current end unless told otherwise. */
export class LogTail {
  private readonly offsets = new Map<string, number>();
  private readonly partial = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sources: TailSource[],
    private readonly onRecord: (hostId: number, record: LogRecord) => void,
    fromStart = false,
  ) {
    for (const s of sources) this.offsets.set(s.path, fromStart ? 0 : sizeOf(s.path));
  }

  start(intervalMs = 50): void {
    this.timer = setInterval(() => this.poll(), intervalMs);
  }

  /** Reads whatever was appended since the last poll. */
  poll(): void {
    const batch: Array<{ hostId: number; record: LogRecord }> = [];
    for (const source of this.sources) {
      for (const line of this.newLines(source.path)) {
        const record = parseRecord(line);
        if (record !== undefined) batch.push({ hostId: source.hostId, record });
      }
    }
    // Files are read one after the other: order what arrived together by its time.
    batch.sort((a, b) => a.record.time - b.record.time);
    for (const { hostId, record } of batch) this.onRecord(hostId, record);
  }

  stop(): void {
    clearInterval(this.timer);
    this.poll();
  }

  private newLines(path: string): string[] {
    const from = this.offsets.get(path) ?? 0;
    const size = sizeOf(path);
    if (size <= from) return [];
    const buffer = Buffer.alloc(size - from);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return [];
    }
    try {
      readSync(fd, buffer, 0, buffer.length, from);
    } finally {
      closeSync(fd);
    }
    this.offsets.set(path, size);
    const text = (this.partial.get(path) ?? '') + buffer.toString('utf8');
    const lines = text.split('\n');
    this.partial.set(path, lines.pop() ?? '');
    return lines;
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export function parseRecord(line: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as Partial<LogRecord>;
    return typeof value.time === 'number' && typeof value.msg === 'string' ? (value as LogRecord) : undefined;
  } catch {
    return undefined;
  }
}

const SEED_LINES = new Set([LOG_ABNORMAL, LOG_PRIMARY, LOG_JOIN]);

/**
 * The failover story, one short line per event, or undefined for lines that are not
 * part of it: the seed's three lines, votes, role changes, evictions, resource crashes
 * and agent actions, and the databases' own role changes.
 */
export function describeEvent(record: LogRecord): { who: string; text: string; seed: boolean } | undefined {
  const msg = record.msg;
  if (record.proc === 'demo-db') {
    if (msg.startsWith('demo-db is now ')) return { who: 'YasDB', text: msg.replace('demo-db', 'database'), seed: false };
    if (msg === 'demo-db started') return { who: 'YasDB', text: `database started (pid ${String(record.pid)})`, seed: false };
    return undefined;
  }
  if (record.proc !== 'ycs') return undefined;
  if (SEED_LINES.has(msg)) return { who: 'ycs', text: msg, seed: true };
  if (record.subsystem === 'engine') {
    if (record.event === 'role-change') return { who: 'ycs', text: `role ${String(record.from)} -> ${String(record.to)} (${String(record.reason)})`, seed: false };
    if (record.event === 'eviction') return { who: 'ycs', text: msg, seed: false };
    if (msg === LOG_PROPOSING) {
      return { who: 'ycs', text: `proposes epoch ${String(record.epoch)}: master ${String(record.masterId)}, members ${JSON.stringify(record.members)}`, seed: false };
    }
    if (msg === LOG_CHOSEN) return { who: 'ycs', text: `vote decided: epoch ${String(record.epoch)}, master ${String(record.masterId)}`, seed: false };
    if (msg === 'resource failed') return { who: 'ycs', text: `resource ${String(record.resource)} failed (${String(record.why)})`, seed: false };
    return undefined;
  }
  if (record.subsystem === 'hb2' && msg.includes('disconnected')) return { who: 'ycs', text: msg, seed: false };
  if (record.subsystem === 'resource' && typeof record.action === 'string' && record.action !== 'monitor') {
    return { who: 'agent', text: msg, seed: false };
  }
  return undefined;
}
