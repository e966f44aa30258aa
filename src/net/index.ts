export { loadClusterKey, writeClusterKey, MIN_CLUSTER_KEY_BYTES } from './key.js';
export { clusterIdFromName, decodeHeartbeat, encodeHeartbeat, MAX_PACKET_BYTES, NET_VERSION } from './codec.js';
export type { WireHeartbeat, DecodeFailure, DecodeResult } from './codec.js';
export { ReplayGuard, REPLAY_WINDOW } from './replay.js';
export { UdpTransport, DROP_REASONS } from './transport.js';
export type { NetPeer, NetStats, DropReason, SenderInfo, UdpTransportOptions } from './transport.js';
