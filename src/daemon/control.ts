// The daemon's Unix control socket (docs/control-protocol.md): newline-delimited JSON
// requests {id, command, args} answered by {id, ok, result | error}. Who may do what is
// decided from the kernel's SO_PEERCRED record of the connecting process, never from
// anything the client sends. A client that sends garbage gets an error and the server
// keeps serving everyone else.
import { chmodSync, chownSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { YcsError, type YcsErrorCode, toYcsError } from '../errors.js';
import { loadNative } from '../native.js';
import { lookupGroupId } from '../config/index.js';
import { MAX_LINE_BYTES, type ControlResponse } from '../control/protocol.js';
import { LineSplitter } from '../net/lines.js';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface ControlPeer extends PeerCredentials {
  /** uid 0, the daemon's own uid, or a member of the control group. */
  privileged: boolean;
}

export interface ControlCommand {
  /** Commands that change anything need a privileged peer. */
  mutating: boolean;
  handler(args: Record<string, unknown>, peer: ControlPeer): unknown;
}

export type CommandTable = Record<string, ControlCommand>;

export interface ControlServerOptions {
  socketPath: string;
  /** Group name or gid owning the socket; its members may run mutating commands. */
  group: string;
  commands: CommandTable;
  /** 0o660 (default): only root and the group connect. 0o666 lets any local user run read-only commands. */
  socketMode?: 0o660 | 0o666;
  maxLineBytes?: number;
  idleTimeoutMs?: number;
  maxConnections?: number;
  logger?: Logger;
}

interface PeercredNative {
  peerCredentials(fd: number): PeerCredentials;
}

/** Reads the peer's credentials from an accepted socket (SO_PEERCRED via the addon). */
export function socketPeerCredentials(socket: Socket): PeerCredentials {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new YcsError('E_INTERNAL', 'accepted control socket has no file descriptor');
  return loadNative<PeercredNative>().peerCredentials(fd);
}

/** Supplementary groups of a live process, read only if /proc still shows the same uid (pid reuse). */
async function processGroups(peer: PeerCredentials): Promise<number[]> {
  try {
    const status = await readFile(`/proc/${peer.pid}/status`, 'utf8');
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    const groups = /^Groups:([\d\s]*)$/m.exec(status)?.[1];
    if (uid === undefined || Number(uid) !== peer.uid || groups === undefined) return [];
    return groups.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function isPrivileged(peer: PeerCredentials, groupId: number | undefined): Promise<boolean> {
  if (peer.uid === 0 || peer.uid === process.getuid?.()) return true;
  if (groupId === undefined) return false;
  if (peer.gid === groupId) return true;
  return (await processGroups(peer)).includes(groupId);
}

function errorResponse(id: ControlResponse['id'], code: YcsErrorCode, message: string): ControlResponse {
  return { id, ok: false, error: { code, message } };
}

function requestId(value: unknown): ControlResponse['id'] {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) ? value : null;
}

export class ControlServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly groupId: number | undefined;
  private readonly maxLineBytes: number;

  private constructor(private readonly options: ControlServerOptions) {
    this.groupId = lookupGroupId(options.group);
    this.maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
    this.server = createServer((socket) => this.accept(socket));
    // A local client opening connections in a loop must not exhaust the daemon's fds.
    this.server.maxConnections = options.maxConnections ?? 64;
  }

  static async start(options: ControlServerOptions): Promise<ControlServer> {
    const server = new ControlServer(options);
    await server.prepareSocketPath();
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.server.listen(options.socketPath, () => {
        server.server.off('error', reject);
        resolve();
      });
    });
    server.server.on('error', (err) => options.logger?.error({ err }, 'control socket error'));
    server.applyOwnership(options.socketPath, options.socketMode ?? 0o660);
    return server;
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  /** Creates the parent directory (0750, or 0755 for a public socket) and removes a stale socket. */
  private async prepareSocketPath(): Promise<void> {
    const path = this.options.socketPath;
    const parent = dirname(path);
    const created = mkdirSync(parent, { recursive: true, mode: this.options.socketMode === 0o666 ? 0o755 : 0o750 });
    if (created !== undefined) this.applyOwnership(parent, this.options.socketMode === 0o666 ? 0o755 : 0o750);
    let isSocket: boolean;
    try {
      isSocket = lstatSync(path).isSocket();
    } catch {
      return; // nothing there
    }
    if (!isSocket) throw new YcsError('E_REFUSED', `control socket path ${path} exists and is not a socket`);
    if (await socketAnswers(path)) throw new YcsError('E_REFUSED', `another ycs is already serving ${path}`);
    unlinkSync(path);
  }

  private applyOwnership(path: string, mode: number): void {
    chmodSync(path, mode);
    if (this.groupId === undefined) throw new YcsError('E_CONFIG', `control group ${this.options.group} does not exist`);
    try {
      chownSync(path, process.getuid?.() ?? 0, this.groupId);
    } catch (err) {
      // Without root (the demo) only groups the daemon belongs to can be set; mode still applies.
      this.options.logger?.warn({ err, path, group: this.options.group }, 'cannot give the control socket to its group');
    }
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy()); // a client vanishing mid-reply is not our problem
    socket.setTimeout(this.options.idleTimeoutMs ?? 60_000, () => socket.destroy());
    let credentials: PeerCredentials;
    try {
      credentials = socketPeerCredentials(socket);
    } catch (err) {
      this.options.logger?.warn({ err }, 'cannot read control client credentials');
      socket.end(`${JSON.stringify(errorResponse(null, 'E_PERMISSION', 'cannot identify the client'))}\n`);
      return;
    }
    const peerReady = isPrivileged(credentials, this.groupId).then((privileged) => ({ ...credentials, privileged }));
    const splitter = new LineSplitter(this.maxLineBytes);
    let queue: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        return this.refuseOversize(socket, toYcsError(err).message);
      }
      for (const line of lines) queue = queue.then(async () => this.reply(socket, await this.handleLine(line, await peerReady)));
    });
  }

  private refuseOversize(socket: Socket, why: string): void {
    const response = errorResponse(null, 'E_PROTOCOL', `request ${why}`);
    socket.removeAllListeners('data');
    socket.end(`${JSON.stringify(response)}\n`);
  }

  private reply(socket: Socket, response: ControlResponse | undefined): void {
    if (response === undefined || socket.destroyed || !socket.writable) return;
    socket.write(`${JSON.stringify(response)}\n`);
  }

  /** Parses and runs one request line; never throws. */
  async handleLine(line: string, peer: ControlPeer): Promise<ControlResponse | undefined> {
    if (line.trim() === '') return undefined;
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch {
      return errorResponse(null, 'E_PROTOCOL', 'request is not valid JSON');
    }
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return errorResponse(null, 'E_PROTOCOL', 'request must be a JSON object {id, command, args}');
    }
    const { id: rawId, command, args } = request as Record<string, unknown>;
    const id = requestId(rawId);
    if (id === null) return errorResponse(null, 'E_PROTOCOL', 'request id must be a string or a number');
    if (typeof command !== 'string') return errorResponse(id, 'E_PROTOCOL', 'request command must be a string');
    if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
      return errorResponse(id, 'E_INVALID_ARGUMENT', 'request args must be an object');
    }
    const entry = Object.hasOwn(this.options.commands, command) ? this.options.commands[command] : undefined;
    if (entry === undefined) return errorResponse(id, 'E_USAGE', `unknown command ${JSON.stringify(command.slice(0, 64))}`);
    if (entry.mutating && !peer.privileged) {
      return errorResponse(id, 'E_PERMISSION', `${command} changes the cluster: run it as root or as a member of group ${this.options.group}`);
    }
    try {
      const result = await entry.handler((args ?? {}) as Record<string, unknown>, peer);
      return { id, ok: true, result: result ?? null };
    } catch (err) {
      const error = toYcsError(err);
      if (error.code === 'E_INTERNAL') this.options.logger?.error({ err, command }, 'control command failed');
      return errorResponse(id, error.code, error.message);
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.options.socketPath);
    } catch {
      // already gone (node removes it on close)
    }
  }
}

/** True when something accepts connections on the Unix socket at `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
