// The ycs side of the local heartbeat with ycsm. The daemon calls startMonitorHeartbeat()
// early in main; when ycs was not started by ycsm (no YCSM_FD / YCSM_SOCKET) it is a no-op.
// The beat is sent from the main event loop on purpose: it must prove that the daemon's
// logic runs, not merely that a thread exists. A daemon that knows it is wedged can also
// withhold beats through `isHealthy`.
import net from 'node:net';
import { YCSM_FD_ENV, YCSM_INTERVAL_ENV, YCSM_SOCKET_ENV, encodeMonitorMessage, processStartTime } from './channel.js';
import type { ManagedPid, MonitorMessage } from './channel.js';

export interface MonitorHeartbeatOptions {
  /** Pids of the database processes this ycs manages (ResourceStack.managedPids). */
  managedPids?: () => number[];
  /** ycs's role, sent with every beat (ycsm tells systemd READY and STATUS from it). */
  role?: () => string;
  /** Beat only while this says yes (e.g. the engine stepped recently). */
  isHealthy?: () => boolean;
  /** Default: YCSM_INTERVAL_MS from ycsm, else 1000. */
  intervalMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Told once when the channel to ycsm breaks (ycsm died). */
  onLost?: (why: string) => void;
}

export interface MonitorHeartbeat {
  /** False when there is no ycsm to talk to. */
  readonly active: boolean;
  /** Sends a beat now (also done every interval). */
  beat(): void;
  /** Tells ycsm a normal stop has begun; resolves once written (before exiting). */
  stopping(): Promise<void>;
  close(): void;
}

const INACTIVE: MonitorHeartbeat = { active: false, beat() {}, stopping: async () => {}, close() {} };

function openChannel(env: NodeJS.ProcessEnv): net.Socket | undefined {
  const fd = env[YCSM_FD_ENV];
  if (fd !== undefined && /^\d+$/.test(fd)) return new net.Socket({ fd: Number(fd), readable: false, writable: true });
  const path = env[YCSM_SOCKET_ENV];
  if (path !== undefined && path !== '') return net.createConnection(path);
  return undefined;
}

export function startMonitorHeartbeat(opts: MonitorHeartbeatOptions = {}): MonitorHeartbeat {
  const env = opts.env ?? process.env;
  let socket: net.Socket | undefined;
  try {
    socket = openChannel(env);
  } catch (err) {
    // A bad YCSM_FD (closed, not a socket): run unsupervised rather than not at all.
    opts.onLost?.((err as Error).message);
    return INACTIVE;
  }
  if (socket === undefined) return INACTIVE;
  const intervalMs = opts.intervalMs ?? (Number(env[YCSM_INTERVAL_ENV]) || 1_000);
  let seq = 0;
  let lost = false;
  const send = (message: MonitorMessage): Promise<void> =>
    new Promise((resolve) => {
      if (lost || !socket.writable) return resolve();
      socket.write(encodeMonitorMessage(message), () => resolve());
    });
  socket.on('error', (err) => {
    if (lost) return;
    lost = true;
    opts.onLost?.(err.message);
  });
  const managed = (): ManagedPid[] => {
    const pids = opts.managedPids?.() ?? [];
    return pids.flatMap((pid) => {
      const start = processStartTime(pid);
      return start === undefined ? [] : [{ pid, start }];
    });
  };
  const beat = (): void => {
    if (opts.isHealthy !== undefined && !opts.isHealthy()) return;
    const role = opts.role?.();
    void send(role === undefined ? { v: 1, type: 'hb', seq: ++seq, pids: managed() } : { v: 1, type: 'hb', seq: ++seq, pids: managed(), role });
  };
  const timer = setInterval(beat, intervalMs);
  // Neither keeps the daemon alive on its own: stopping the daemon need not remember them.
  timer.unref();
  socket.unref();
  beat();
  return {
    active: true,
    beat,
    stopping: () => send({ v: 1, type: 'stopping' }),
    close: () => {
      clearInterval(timer);
      socket.end();
    },
  };
}
