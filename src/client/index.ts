// The library a database links to talk to ycs over network heartbeat 2
// (docs/heartbeat2-protocol.md): hello, heartbeats every intervalMs, reconnects, and a
// LEASE. Each ack grants authority until (time the heartbeat was SENT + leaseMs), measured
// on this process's monotonic clock. When ycs stops answering (frozen, crashed, socket
// gone) the lease runs out and the role becomes 'unknown': the database must block new
// writes. `canWrite(epoch)` is the check to make before every write.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { clientReconnectCapMs } from '../core/timeouts.js';
import { LineSplitter } from '../net/lines.js';
import { HB2_MAX_LINE_BYTES, decodeServerMessage, encodeHb2 } from '../resource/hb2-protocol.js';
import type { Hb2ServerMessage } from '../resource/hb2-protocol.js';
import type { DbRole } from '../resource/types.js';

export type { DbRole } from '../resource/types.js';

export interface YcsRoleState {
  /** 'unknown' whenever the lease is not valid, whatever ycs said last. */
  role: DbRole;
  /** The fencing token of the current role; stamp writes with it. */
  epoch: number;
  /** This host's id, from the welcome (0 before). */
  hostId: number;
}

export interface ConnectYcsOptions {
  socketPath: string;
  resource: string;
  intervalMs: number;
  /** Called whenever the effective role or epoch changes (including lease expiry). */
  onRole?: (state: YcsRoleState) => void;
  /** Called for connection problems and error replies; the client keeps retrying. */
  onProblem?: (message: string) => void;
  /** Pid sent in the hello (default: this process). */
  pid?: number;
  /** Upper bound of the reconnect backoff (default 8 x intervalMs). */
  reconnectMaxMs?: number;
}

export interface YcsClient {
  readonly connected: boolean;
  state(): YcsRoleState;
  /** True only while ycs says primary at exactly `epoch` and the lease is valid. */
  canWrite(epoch?: number): boolean;
  /** Milliseconds of lease left (0 when expired). */
  leaseRemainingMs(): number;
  close(): Promise<void>;
}

export function connectYcs(options: ConnectYcsOptions): YcsClient {
  const client = new Hb2Client(options);
  client.connect();
  return client;
}

class Hb2Client implements YcsClient {
  private socket: net.Socket | undefined;
  private welcomed = false;
  private closed = false;
  private serverRole: DbRole = 'unknown';
  private epoch = 0;
  private hostId = 0;
  private leaseUntilMs = 0;
  private nextSeq = 1;
  private readonly sentAtMs = new Map<number, number>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private reconnectDelayMs: number;
  private lastReported: YcsRoleState = { role: 'unknown', epoch: 0, hostId: 0 };

  constructor(private readonly opts: ConnectYcsOptions) {
    this.reconnectDelayMs = opts.intervalMs;
  }

  get connected(): boolean {
    return this.welcomed;
  }

  state(): YcsRoleState {
    const role = performance.now() < this.leaseUntilMs ? this.serverRole : 'unknown';
    return { role, epoch: this.epoch, hostId: this.hostId };
  }

  canWrite(epoch?: number): boolean {
    const state = this.state();
    return state.role === 'primary' && (epoch === undefined || epoch === state.epoch);
  }

  leaseRemainingMs(): number {
    return Math.max(0, this.leaseUntilMs - performance.now());
  }

  connect(): void {
    if (this.closed) return;
    const socket = net.createConnection(this.opts.socketPath);
    this.socket = socket;
    const splitter = new LineSplitter(HB2_MAX_LINE_BYTES);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      socket.write(encodeHb2({ v: 1, type: 'hello', resource: this.opts.resource, pid: this.opts.pid ?? process.pid }));
    });
    socket.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        return this.abandon(socket, `reply ${(err as Error).message}`);
      }
      for (const line of lines) {
        const decoded = decodeServerMessage(line);
        if (!decoded.ok) return this.abandon(socket, `bad reply from ycs: ${decoded.reason}`);
        this.receive(decoded.message);
      }
    });
    socket.on('error', (err) => this.problem(`heartbeat-2 socket ${this.opts.socketPath}: ${err.message}`));
    socket.on('close', () => this.onClose(socket));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.leaseTimer);
    const socket = this.socket;
    if (socket === undefined || socket.destroyed) return;
    // destroy, not end: a frozen ycs would never complete a graceful close.
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  private receive(message: Hb2ServerMessage): void {
    switch (message.type) {
      case 'welcome':
        this.welcomed = true;
        this.hostId = message.hostId;
        this.reconnectDelayMs = this.opts.intervalMs;
        // The welcome itself grants no lease: the first ack does, one round trip later.
        this.takeAway(message.role, message.epoch);
        this.sendHeartbeat();
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), this.opts.intervalMs);
        break;
      case 'ack':
        this.acked(message.seq, message.role, message.epoch, message.leaseMs);
        break;
      case 'role':
        // A push may only take authority away; a grant waits for the ack of a heartbeat
        // sent now, so that the lease is always anchored to a heartbeat's send time.
        this.takeAway(message.role, message.epoch);
        this.sendHeartbeat();
        break;
      case 'error':
        this.problem(`ycs refused: ${message.code}: ${message.message}`);
        break;
    }
    this.report();
  }

  private acked(seq: number, role: DbRole, epoch: number, leaseMs: number): void {
    const sentAtMs = this.sentAtMs.get(seq);
    if (sentAtMs === undefined) return; // not ours, or older than one already acked
    for (const key of this.sentAtMs.keys()) if (key <= seq) this.sentAtMs.delete(key);
    // A lease holds only for the authority it was granted with: a standby's lease (it only
    // says that ycs is alive) must never stretch a primary's, which ends with the master
    // window. A new role or epoch starts from this ack's lease alone.
    const sameAuthority = role === this.serverRole && epoch === this.epoch;
    this.serverRole = role;
    this.epoch = epoch;
    this.leaseUntilMs = sameAuthority ? Math.max(this.leaseUntilMs, sentAtMs + leaseMs) : sentAtMs + leaseMs;
    this.armLeaseTimer();
  }

  /**
   * Reports the lease expiry when it happens. libuv measures timers from its cached loop
   * time, which lags the real clock on a busy loop, so a timer can fire a little early:
   * re-arm until the lease has really run out. (canWrite() reads the clock itself and
   * never depends on this timer.)
   */
  private armLeaseTimer(): void {
    clearTimeout(this.leaseTimer);
    const remainingMs = this.leaseUntilMs - performance.now();
    if (remainingMs <= 0) return;
    this.leaseTimer = setTimeout(() => {
      this.report();
      this.armLeaseTimer();
    }, Math.ceil(remainingMs) + 1);
  }

  /** Applies a role that removes write authority at once; ignores grants. */
  private takeAway(role: DbRole, epoch: number): void {
    if (role === 'primary' && this.serverRole === 'primary' && epoch === this.epoch) return;
    if (role === 'primary') return; // grant: wait for an ack
    this.serverRole = role;
    this.epoch = epoch;
  }

  private sendHeartbeat(): void {
    const socket = this.socket;
    if (socket === undefined || !this.welcomed || !socket.writable) return;
    const seq = this.nextSeq++;
    this.sentAtMs.set(seq, performance.now());
    if (this.sentAtMs.size > 64) {
      const oldest = this.sentAtMs.keys().next().value;
      if (oldest !== undefined) this.sentAtMs.delete(oldest); // unanswered: bound the map
    }
    socket.write(encodeHb2({ v: 1, type: 'heartbeat', seq }));
  }

  private onClose(socket: net.Socket): void {
    if (socket !== this.socket) return;
    this.welcomed = false;
    clearInterval(this.heartbeatTimer);
    this.sentAtMs.clear();
    // The lease granted so far stays valid until it runs out: ycs promised to tell us,
    // or to let it expire, before anyone else may promote. A restarted ycs reconnects.
    this.report();
    if (this.closed) return;
    this.reconnectTimer = setTimeout(() => this.connect(), this.reconnectDelayMs);
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, this.opts.reconnectMaxMs ?? clientReconnectCapMs(this.opts.intervalMs));
  }

  private abandon(socket: net.Socket, why: string): void {
    this.problem(why);
    socket.destroy();
  }

  private problem(message: string): void {
    this.opts.onProblem?.(message);
  }

  private report(): void {
    const now = this.state();
    const last = this.lastReported;
    if (now.role === last.role && now.epoch === last.epoch) return;
    this.lastReported = now;
    this.opts.onRole?.(now);
  }
}
