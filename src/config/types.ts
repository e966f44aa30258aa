// The config file's types, defaults and error (docs/config.md). Parsing and validation
// are in checks.ts and load.ts; everything is re-exported from src/config/index.ts.
import type { HostId } from '../core/types.js';
import type { StoreTimeouts } from '../core/store-timeouts.js';
import type { Timeouts } from '../core/timeouts.js';
import { YcsError } from '../errors.js';
import { DEFAULT_ACTION_TIMEOUT_MS, DEFAULT_MONITOR_INTERVAL_MS, type ResourceConfig as ResourceSpec } from '../resource/types.js';

export type FencingDriver = 'none' | 'scsi-pr' | 'block-pr' | 'iscsi-pr';
export type ConfigLogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface HostConfig {
  id: HostId;
  address: string;
  port: number;
}

/** A resource as loaded: the fields of src/resource's ResourceConfig with every default applied. */
export interface ResourceConfig extends ResourceSpec {
  /** Unix socket for network heartbeat 2; default `<runDir>/<name>.sock`. */
  socket: string;
  env: Record<string, string>;
  /** 'required': shown as running (primary, standby) only once its database connected over heartbeat 2. */
  heartbeat2: Heartbeat2Mode;
}

export type Heartbeat2Mode = 'required' | 'optional';
export const HEARTBEAT2_MODES: readonly Heartbeat2Mode[] = ['required', 'optional'];

export type Arbitration = 'disk' | 'etcd';

/** The etcd section (arbitration "etcd", docs/etcd-mode.md). */
export interface EtcdConfig {
  endpoints: string[];
  /** Every key of this cluster lives under it; default `/ycs/<cluster>`. */
  prefix: string;
  leaseTtlMs: number;
  /** Every timing of etcd mode, derived by src/core/store-timeouts.ts from the TTL. */
  store: StoreTimeouts;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  username?: string;
  passwordFile?: string;
}

/** The HTTP listener for metrics and health endpoints (docs/metrics.md); null: off. */
export interface HttpConfig {
  address: string;
  port: number;
}

export interface Config {
  /** The file it was read from ('' when parsed from text without one). */
  path: string;
  cluster: string;
  hostId: HostId;
  hosts: HostConfig[];
  /** 'disk': Disk Paxos on the voting disks; 'etcd': a lease on an etcd cluster. */
  arbitration: Arbitration;
  /** Set with arbitration 'etcd', else null. */
  etcd: EtcdConfig | null;
  /** Empty with arbitration 'etcd'. */
  votingDisks: string[];
  dataDisks: string[];
  fencing: FencingDriver;
  keyFile: string;
  DISK_HB_KEEP_ALIVE: number;
  NETWORK_HB_TIMEOUT: number;
  DISK_HB_INTERVAL: number | undefined;
  /** Every timeout, derived and checked by src/core/timeouts.ts from the three above. */
  timeouts: Timeouts;
  resources: ResourceConfig[];
  controlSocket: string;
  controlGroup: string;
  /** false: socket 0660 (root and controlGroup only). true: 0666, any local user may run read-only commands. */
  controlSocketPublic: boolean;
  runDir: string;
  logLevel: ConfigLogLevel;
  http: HttpConfig | null;
}

export const CONFIG_DEFAULTS = {
  controlSocket: '/run/ycs/ycs.sock',
  controlGroup: 'root',
  runDir: '/run/ycs',
  logLevel: 'info' as ConfigLogLevel,
  monitorIntervalMs: DEFAULT_MONITOR_INTERVAL_MS,
  actionTimeoutMs: DEFAULT_ACTION_TIMEOUT_MS,
};

export const FENCING_DRIVERS: readonly FencingDriver[] = ['none', 'scsi-pr', 'block-pr', 'iscsi-pr'];
export const LOG_LEVELS: readonly ConfigLogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
export const TOP_KEYS = [
  'cluster', 'hostId', 'hosts', 'arbitration', 'etcd', 'votingDisks', 'dataDisks', 'fencing', 'keyFile', 'DISK_HB_KEEP_ALIVE',
  'NETWORK_HB_TIMEOUT', 'DISK_HB_INTERVAL', 'resources', 'controlSocket', 'controlGroup', 'controlSocketPublic', 'runDir', 'logLevel', 'http',
];
export const ARBITRATIONS: readonly Arbitration[] = ['disk', 'etcd'];
export const ETCD_KEYS = ['endpoints', 'prefix', 'leaseTtlMs', 'caFile', 'certFile', 'keyFile', 'username', 'passwordFile'];
export const HOST_KEYS = ['id', 'address', 'port'];
export const RESOURCE_KEYS = ['name', 'agent', 'socket', 'monitorIntervalMs', 'actionTimeoutMs', 'env', 'heartbeat2'];
export const RESOURCE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
export const ISCSI_URL = /^iscsi:\/\/[^/\s]+\/[^/\s]+\/\d+$/;

/** Thrown by loadConfig/parseConfig; `problems` holds every line. toLine() prints them all. */
export class ConfigError extends YcsError {
  constructor(readonly problems: string[]) {
    // The message is built so that `E_CONFIG: ${message}` is exactly the lines joined.
    super('E_CONFIG', problems.map((p) => p.replace(/^E_CONFIG: /, '')).join('\nE_CONFIG: '));
  }
}
