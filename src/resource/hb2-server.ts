// Network heartbeat 2, daemon side: a Unix socket the local databases connect to.
// A database says hello {resource, pid}, then heartbeats; every heartbeat is answered
// with the role and epoch the engine gives this host's resource and a lease. Events go
// to the engine: connected, heartbeat, disconnected (the crash report: a dead process
// closes its socket at once), and monitor-failed after NETWORK_HB_TIMEOUT of silence.
// A peer can send anything: bad input gets an error line and that connection is closed;
// the server itself keeps serving.
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from 'pino';
import type { ResourceEvent } from '../core/types.js';
import { YcsError, toYcsError } from '../errors.js';
import { LineSplitter } from '../net/lines.js';
import { HB2_MAX_LINE_BYTES, decodeClientMessage, encodeHb2 } from './hb2-protocol.js';
import type { Hb2ServerMessage } from './hb2-protocol.js';
import type { ResourceAuthority } from './manager.js';

export interface Hb2ServerOptions {
  socketPath: string;
  /** Configured resource names, in configured order (the index is the engine's). */
  resources: string[];
  hostId: number;
  /** Current authority of resource #index (ResourceManager.authority). */
  authority: (index: number) => ResourceAuthority;
  /** Lease granted with each ack; a function lets the daemon bound it by the master window. */
  leaseMs: number | ((index: number) => number);
  /** NETWORK_HB_TIMEOUT: silence after which the resource is reported failed. */
  silenceTimeoutMs: number;
  onEvent: (index: number, event: ResourceEvent) => void;
  /** Told of each NETWORK_HB_TIMEOUT of silence (the metrics count them); the engine hears monitor-failed. */
  onSilence?: (index: number) => void;
  logger: Logger;
  /** Mode of the socket file (default 0660: root and the database's group). */
  socketMode?: number;
  /** Indexes of the resources served on this socket (default: all). */
  served?: number[];
  /**
   * The connected process's pid from the kernel (SO_PEERCRED), or undefined when unknown.
   * When given, a hello must carry that pid: ycsm kills the pids reported here.
   */
  peerPid?: (socket: net.Socket) => number | undefined;
}

interface Session {
  socket: net.Socket;
  index: number; // -1 until hello
  pid: number;
  silenceTimer: NodeJS.Timeout | undefined;
  silent: boolean;
}

export interface Hb2Stats {
  connections: number;
  heartbeats: number;
  protocolErrors: number;
  silences: number;
}

export class Hb2Server {
  private readonly server: net.Server;
  private readonly sessions = new Set<Session>();
  private readonly log: Logger;
  readonly stats: Hb2Stats = { connections: 0, heartbeats: 0, protocolErrors: 0, silences: 0 };

  constructor(private readonly opts: Hb2ServerOptions) {
    this.log = opts.logger.child({ subsystem: 'hb2' });
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.on('error', (err) => this.log.error({ err }, 'heartbeat-2 server error'));
  }

  async listen(): Promise<void> {
    if (await someoneListens(this.opts.socketPath)) {
      // A second daemon on this host would hand out a second set of roles.
      throw new YcsError('E_REFUSED', `another process already serves heartbeat 2 on ${this.opts.socketPath}`);
    }
    removeStaleSocket(this.opts.socketPath);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void =>
        reject(new YcsError('E_IO', `cannot listen on heartbeat-2 socket ${this.opts.socketPath}: ${err.message}`, { errno: err.code, cause: err }));
      this.server.once('error', onError);
      this.server.listen(this.opts.socketPath, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    chmodSync(this.opts.socketPath, this.opts.socketMode ?? 0o660);
    this.log.info({ socketPath: this.opts.socketPath }, 'heartbeat-2 server listening');
  }

  /** Closes every connection (without reporting them as crashes) and the listener. */
  async close(): Promise<void> {
    for (const session of [...this.sessions]) this.drop(session, false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.opts.socketPath);
    } catch {
      // already gone
    }
  }

  /** Pushes a role change at once, so a demoted database stops writing before its next heartbeat. */
  pushAuthority(index: number, authority: ResourceAuthority): void {
    for (const session of this.sessions) {
      if (session.index !== index) continue;
      this.send(session, { v: 1, type: 'role', role: authority.role, epoch: authority.epoch });
    }
  }

  /** Pids of the connected database processes (ycsm kills them when ycs hangs). */
  connectedPids(): number[] {
    return [...this.sessions].filter((s) => s.index >= 0).map((s) => s.pid);
  }

  isConnected(index: number): boolean {
    return [...this.sessions].some((s) => s.index === index);
  }

  private accept(socket: net.Socket): void {
    const session: Session = { socket, index: -1, pid: 0, silenceTimer: undefined, silent: false };
    this.sessions.add(session);
    this.stats.connections++;
    const splitter = new LineSplitter(HB2_MAX_LINE_BYTES);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        return this.reject(session, 'E_PROTOCOL', toYcsError(err).message);
      }
      for (const line of lines) {
        if (!this.sessions.has(session)) return;
        this.receive(session, line);
      }
    });
    socket.on('error', () => {}); // ECONNRESET and the like end up in 'close'
    socket.on('close', () => this.drop(session, true));
  }

  private receive(session: Session, line: string): void {
    const decoded = decodeClientMessage(line);
    if (!decoded.ok) return this.reject(session, decoded.code, decoded.reason);
    const message = decoded.message;
    if (message.type === 'hello') return this.hello(session, message.resource, message.pid);
    if (session.index < 0) return this.reject(session, 'E_PROTOCOL', 'heartbeat before hello');
    this.heartbeat(session, message.seq);
  }

  private hello(session: Session, resource: string, pid: number): void {
    if (session.index >= 0) return this.reject(session, 'E_PROTOCOL', 'second hello on one connection');
    const index = this.opts.resources.indexOf(resource);
    if (index < 0 || (this.opts.served !== undefined && !this.opts.served.includes(index))) {
      return this.reject(session, 'E_REFUSED', `resource ${resource} is not served on this socket`);
    }
    const peerPid = this.opts.peerPid?.(session.socket);
    if (peerPid !== undefined && peerPid !== pid) {
      return this.reject(session, 'E_REFUSED', `hello says pid ${pid} but the peer is pid ${peerPid}`);
    }
    // Two instances of one resource on one host is a bug (or a frozen old instance): the
    // first one keeps the slot until its socket closes or it falls silent; a silent one is
    // then cut off, so that it cannot wake up and get acks beside its successor.
    const others = [...this.sessions].filter((s) => s.index === index);
    const live = others.find((s) => !s.silent);
    if (live !== undefined) return this.reject(session, 'E_REFUSED', `resource ${resource} is already connected (pid ${live.pid})`);
    for (const silent of others) this.reject(silent, 'E_REFUSED', `replaced by pid ${pid} after falling silent`);
    session.index = index;
    session.pid = pid;
    const authority = this.opts.authority(index);
    this.send(session, {
      v: 1,
      type: 'welcome',
      resource,
      hostId: this.opts.hostId,
      role: authority.role,
      epoch: authority.epoch,
      leaseMs: this.leaseFor(index),
      timeoutMs: this.opts.silenceTimeoutMs,
    });
    this.log.info({ resource, pid }, `database ${resource} (pid ${pid}) connected`);
    this.armSilence(session);
    this.opts.onEvent(index, 'connected');
  }

  private heartbeat(session: Session, seq: number): void {
    this.stats.heartbeats++;
    const authority = this.opts.authority(session.index);
    this.send(session, { v: 1, type: 'ack', seq, role: authority.role, epoch: authority.epoch, leaseMs: this.leaseFor(session.index) });
    if (session.silent) {
      session.silent = false;
      this.log.info({ resource: this.name(session), pid: session.pid }, `database ${this.name(session)} heartbeats again`);
    }
    this.armSilence(session);
    this.opts.onEvent(session.index, 'heartbeat');
  }

  private armSilence(session: Session): void {
    clearTimeout(session.silenceTimer);
    session.silenceTimer = setTimeout(() => {
      session.silent = true;
      this.stats.silences++;
      const resource = this.name(session);
      this.log.warn(
        { resource, pid: session.pid, timeoutMs: this.opts.silenceTimeoutMs },
        `database ${resource} sent no heartbeat for ${this.opts.silenceTimeoutMs} ms (NETWORK_HB_TIMEOUT)`,
      );
      this.opts.onSilence?.(session.index);
      this.opts.onEvent(session.index, 'monitor-failed');
    }, this.opts.silenceTimeoutMs);
  }

  private reject(session: Session, code: string, message: string): void {
    this.stats.protocolErrors++;
    this.log.warn({ resource: session.index >= 0 ? this.name(session) : undefined, code }, `heartbeat-2 connection closed: ${message}`);
    this.send(session, { v: 1, type: 'error', code, message });
    session.socket.end();
    this.drop(session, true);
  }

  /** Forgets a session; `report` says whether the engine hears 'disconnected'. */
  private drop(session: Session, report: boolean): void {
    if (!this.sessions.delete(session)) return;
    clearTimeout(session.silenceTimer);
    if (!session.socket.destroyed && !report) session.socket.destroy();
    if (session.index < 0) return;
    const resource = this.name(session);
    if (report) {
      this.log.warn({ resource, pid: session.pid }, `database ${resource} (pid ${session.pid}) disconnected: crash report`);
      this.opts.onEvent(session.index, 'disconnected');
    }
  }

  private send(session: Session, message: Hb2ServerMessage): void {
    if (session.socket.writable) session.socket.write(encodeHb2(message));
  }

  private leaseFor(index: number): number {
    return typeof this.opts.leaseMs === 'function' ? this.opts.leaseMs(index) : this.opts.leaseMs;
  }

  private name(session: Session): string {
    return this.opts.resources[session.index] ?? '?';
  }
}

/** True when a connect to `path` succeeds: a live server, not a leftover file. */
function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createConnection(path);
    const done = (answer: boolean): void => {
      clearTimeout(timer);
      probe.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), 500);
    probe.once('connect', () => done(true));
    probe.once('error', () => done(false));
  });
}

/** A socket file left by a crashed daemon would make listen() fail with EADDRINUSE. */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // does not exist
  }
}
