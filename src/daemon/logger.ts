// The daemon's pino loggers: one root logger (JSON lines on stdout, which ycsm passes on
// to its own stdout or the journal) and one child per subsystem, so every line says
// where it came from: {"subsystem":"engine", ...}.
import pino, { type Logger } from 'pino';
import type { ConfigLogLevel } from '../config/index.js';

export type Subsystem = 'daemon' | 'engine' | 'disk' | 'net' | 'fence' | 'resource' | 'control' | 'monitor' | 'etcd' | 'http';

export interface DaemonLoggers {
  root: Logger;
  of(subsystem: Subsystem): Logger;
}

export interface LoggerOptions {
  level: ConfigLogLevel;
  hostId: number;
  /** Where JSON lines go; default stdout (synchronous, so the last lines before exit are kept). */
  destination?: pino.DestinationStream;
}

export function createDaemonLoggers(options: LoggerOptions): DaemonLoggers {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  const root = pino({ level: options.level, base: { proc: 'ycs', host: options.hostId, pid: process.pid } }, destination);
  const children = new Map<Subsystem, Logger>();
  return {
    root,
    of(subsystem) {
      let child = children.get(subsystem);
      if (child === undefined) {
        child = root.child({ subsystem });
        children.set(subsystem, child);
      }
      return child;
    },
  };
}
