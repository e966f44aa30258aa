// UDP transport for network heartbeat 1: one socket bound to this host's address:port,
// a datagram to every peer per heartbeat, accepted heartbeats handed to a callback.
// Whatever arrives (garbage, forgeries, replays, other clusters) is dropped and counted,
// never thrown: a hostile or broken network must not stop the daemon.
import DgramAsPromised, { type SocketAsPromised } from 'dgram-as-promised';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { HostId, NetHeartbeat } from '../core/types.js';
import { YcsError } from '../errors.js';
import { type DecodeFailure, clusterIdFromName, decodeHeartbeat, encodeHeartbeat } from './codec.js';
import { ReplayGuard } from './replay.js';

export interface NetPeer {
  id: HostId;
  address: string;
  port: number;
}

export type DropReason = DecodeFailure | 'wrong-recipient' | 'unknown-sender' | 'replay' | 'stale-incarnation';

export const DROP_REASONS: readonly DropReason[] = [
  'oversize',
  'truncated',
  'malformed',
  'wrong-version',
  'wrong-type',
  'wrong-cluster',
  'bad-mac',
  'wrong-recipient',
  'unknown-sender',
  'replay',
  'stale-incarnation',
];

export interface NetStats {
  sent: number;
  sendErrors: number;
  received: number;
  accepted: number;
  handlerErrors: number;
  dropped: Record<DropReason, number>;
}

export interface SenderInfo {
  address: string;
  port: number;
}

export interface UdpTransportOptions {
  cluster: string;
  selfId: HostId;
  /** This daemon's incarnation (grows at every start); stamped on every message sent. */
  incarnation: number;
  bindAddress: string;
  /** 0 picks an ephemeral port (tests). */
  bindPort: number;
  /** The other hosts; an entry for selfId is ignored. */
  peers: NetPeer[];
  key: Buffer;
  onHeartbeat: (message: NetHeartbeat, sender: SenderInfo) => void;
  logger?: Logger;
}

function emptyStats(): NetStats {
  const dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  return { sent: 0, sendErrors: 0, received: 0, accepted: 0, handlerErrors: 0, dropped };
}

export class UdpTransport {
  private readonly clusterId: Buffer;
  private readonly replay = new ReplayGuard();
  private readonly counters = emptyStats();
  private peers: NetPeer[] = [];
  private sequence = 0;
  private closed = false;
  private socket!: SocketAsPromised;

  private constructor(private readonly options: UdpTransportOptions) {
    this.clusterId = clusterIdFromName(options.cluster);
    this.setPeers(options.peers);
  }

  static async open(options: UdpTransportOptions): Promise<UdpTransport> {
    const family = isIP(options.bindAddress);
    if (family === 0) throw new YcsError('E_CONFIG', `network heartbeat address ${options.bindAddress} is not an IP address`);
    const transport = new UdpTransport(options);
    const socket = DgramAsPromised.createSocket(family === 6 ? 'udp6' : 'udp4', (msg, rinfo) =>
      transport.receive(msg, { address: rinfo.address, port: rinfo.port }),
    );
    // Late socket errors (ICMP-driven, on some platforms) are counted at the next send.
    socket.socket.on('error', (err) => options.logger?.warn({ err }, 'network heartbeat socket error'));
    try {
      await socket.bind(options.bindPort, options.bindAddress);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      socket.destroy();
      throw new YcsError(
        'E_CONFIG',
        `cannot bind network heartbeat socket to ${options.bindAddress}:${options.bindPort} (${code})`,
        { errno: code, op: 'bind', cause: err },
      );
    }
    transport.socket = socket;
    return transport;
  }

  /** Replaces the peer list (config reload; tests that bind ephemeral ports first). */
  setPeers(peers: NetPeer[]): void {
    this.peers = peers.filter((p) => p.id !== this.options.selfId).map((p) => ({ ...p }));
  }

  address(): SenderInfo {
    const info = this.socket.address();
    return { address: info.address, port: info.port };
  }

  stats(): NetStats {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }

  /**
   * Sends one heartbeat to every peer. The transport stamps `incarnation` (its own) and
   * `sequence` (one per call, shared by all peers of the call) so replays are detectable
   * whatever the caller put there. Never rejects: failures are counted and logged.
   */
  async send(message: NetHeartbeat): Promise<void> {
    if (this.closed) return;
    if (message.from !== this.options.selfId) {
      throw new YcsError('E_INTERNAL', `heartbeat from ${message.from} sent by host ${this.options.selfId}`);
    }
    this.sequence += 1;
    const stamped: NetHeartbeat = { ...message, incarnation: this.options.incarnation, sequence: this.sequence };
    await Promise.all(this.peers.map((peer) => this.sendTo(peer, stamped)));
  }

  private async sendTo(peer: NetPeer, message: NetHeartbeat): Promise<void> {
    const packet = encodeHeartbeat({ clusterId: this.clusterId, to: peer.id, message }, this.options.key);
    try {
      await this.socket.send(packet, peer.port, peer.address);
      this.counters.sent += 1;
    } catch (err) {
      this.counters.sendErrors += 1;
      this.options.logger?.debug({ err, peer: peer.id }, 'network heartbeat send failed');
    }
  }

  private drop(reason: DropReason, sender: SenderInfo, detail: string): void {
    this.counters.dropped[reason] += 1;
    this.options.logger?.debug({ reason, detail, sender }, 'network heartbeat dropped');
  }

  private receive(packet: Buffer, sender: SenderInfo): void {
    if (this.closed) return;
    this.counters.received += 1;
    const decoded = decodeHeartbeat(packet, this.options.key, this.clusterId);
    if (!decoded.ok) return this.drop(decoded.reason, sender, decoded.detail);
    const { to, message } = decoded.value;
    if (to !== this.options.selfId) return this.drop('wrong-recipient', sender, `to ${to}`);
    if (!this.peers.some((p) => p.id === message.from)) return this.drop('unknown-sender', sender, `from ${message.from}`);
    const verdict = this.replay.accept(message.from, message.incarnation, message.sequence);
    if (verdict !== 'fresh') return this.drop(verdict, sender, `${message.incarnation}/${message.sequence}`);
    this.counters.accepted += 1;
    try {
      this.options.onHeartbeat(message, sender);
    } catch (err) {
      this.counters.handlerErrors += 1;
      this.options.logger?.error({ err }, 'network heartbeat handler threw');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.socket.close();
  }
}
