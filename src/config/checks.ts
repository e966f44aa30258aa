// Validation of each part of the config file (docs/config.md): hosts, disks, resources,
// timeouts and the top level. Problems go to the Checker; nothing here throws.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DEFAULT_BASE_TIMEOUTS, type Timeouts, deriveTimeouts } from '../core/timeouts.js';
import { MAX_RESOURCES, VOTING_DISK_COUNTS, clusterNameProblem } from '../disk/layout.js';
import { Checker, describe, type Raw } from './checker.js';
import { checkEtcd } from './etcd.js';
import {
  HEARTBEAT2_MODES,
  ARBITRATIONS, CONFIG_DEFAULTS, type EtcdConfig, FENCING_DRIVERS, type HttpConfig, HOST_KEYS, ISCSI_URL, LOG_LEVELS, RESOURCE_KEYS, RESOURCE_NAME, TOP_KEYS,
  type Config, type HostConfig, type ResourceConfig,
} from './types.js';

function checkHosts(c: Checker, raw: Raw): HostConfig[] | undefined {
  const list = c.array(raw, 'hosts', true);
  if (list === undefined) return undefined;
  if (list.length === 0) c.problem('hosts', 'must list at least one host');
  const hosts: HostConfig[] = [];
  const seenIds = new Set<number>();
  const seenEndpoints = new Set<string>();
  list.forEach((entry, i) => {
    const name = `hosts[${i}]`;
    const obj = c.object(entry, name);
    if (obj === undefined) return;
    c.unknownKeys(obj, HOST_KEYS, `${name}.`);
    const id = c.integer(obj, 'id', `${name}.id`, 1, 255);
    const address = c.string(obj, 'address', `${name}.address`);
    const port = c.integer(obj, 'port', `${name}.port`, 1, 65535);
    if (address !== undefined && isIP(address) === 0) c.problem(`${name}.address`, `${JSON.stringify(address)} is not an IP address`);
    if (id !== undefined && seenIds.has(id)) c.problem(`${name}.id`, `duplicate host id ${id}`);
    const endpoint = `${address}:${port}`;
    if (address !== undefined && port !== undefined && seenEndpoints.has(endpoint)) {
      c.problem(`${name}`, `duplicate address and port ${endpoint}`);
    }
    if (id !== undefined) seenIds.add(id);
    seenEndpoints.add(endpoint);
    if (id !== undefined && address !== undefined && port !== undefined) hosts.push({ id, address, port });
  });
  return hosts;
}

/** A device path (block device or regular file) or an iscsi:// URL, resolved against the config's directory. */
function checkDevice(c: Checker, value: unknown, name: string, baseDir: string): string | undefined {
  if (typeof value !== 'string' || value.length === 0) {
    c.problem(name, `must be a device path or iscsi:// URL, got ${describe(value)}`);
    return undefined;
  }
  if (value.startsWith('iscsi://')) {
    if (!ISCSI_URL.test(value)) c.problem(name, `${value} is not of the form iscsi://host[:port]/IQN/LUN`);
    return value;
  }
  const path = resolve(baseDir, value);
  try {
    const st = statSync(path);
    if (!st.isBlockDevice() && !st.isFile()) c.problem(name, `${path} is neither a block device nor a regular file`);
  } catch (err) {
    c.problem(name, `${path} is unreachable (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return path;
}

function checkDisks(c: Checker, raw: Raw, key: 'votingDisks' | 'dataDisks', baseDir: string, required = key === 'votingDisks'): string[] | undefined {
  const list = c.array(raw, key, required);
  if (list === undefined) return undefined;
  if (key === 'votingDisks' && !VOTING_DISK_COUNTS.includes(list.length)) {
    c.problem(key, `must list 1, 3 or 5 voting disks (a majority must survive), got ${list.length}`);
  }
  const paths = list.map((v, i) => checkDevice(c, v, `${key}[${i}]`, baseDir));
  const seen = new Set<string>();
  paths.forEach((p, i) => {
    if (p !== undefined && seen.has(p)) c.problem(`${key}[${i}]`, `${p} is listed twice`);
    if (p !== undefined) seen.add(p);
  });
  return paths.filter((p): p is string => p !== undefined);
}

function checkEnv(c: Checker, value: unknown, name: string): Record<string, string> {
  if (value === undefined) return {};
  const obj = c.object(value, name);
  if (obj === undefined) return {};
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) c.problem(`${name}.${k}`, 'is not a valid environment variable name');
    else if (typeof v !== 'string') c.problem(`${name}.${k}`, `must be a string, got ${describe(v)}`);
    else env[k] = v;
  }
  return env;
}

function checkAgent(c: Checker, value: string | undefined, name: string, baseDir: string): string | undefined {
  if (value === undefined) return undefined;
  const path = resolve(baseDir, value);
  try {
    if (!statSync(path).isFile()) c.problem(name, `${path} is not a regular file`);
    else accessSync(path, constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    c.problem(name, code === 'EACCES' ? `${path} is not executable` : `${path} is unreachable (${code})`);
  }
  return path;
}

function checkResources(c: Checker, raw: Raw, baseDir: string, runDir: string): ResourceConfig[] | undefined {
  const list = c.array(raw, 'resources', false);
  if (list === undefined) return undefined;
  if (list.length > MAX_RESOURCES) c.problem('resources', `at most ${MAX_RESOURCES} resources, got ${list.length}`);
  const resources: ResourceConfig[] = [];
  const names = new Set<string>();
  list.forEach((entry, i) => {
    const key = `resources[${i}]`;
    const obj = c.object(entry, key);
    if (obj === undefined) return;
    c.unknownKeys(obj, RESOURCE_KEYS, `${key}.`);
    const name = c.string(obj, 'name', `${key}.name`);
    if (name !== undefined && !RESOURCE_NAME.test(name)) {
      c.problem(`${key}.name`, `${JSON.stringify(name)} must be a letter then up to 31 letters, digits, _ or -`);
    }
    if (name !== undefined && names.has(name)) c.problem(`${key}.name`, `duplicate resource name ${name}`);
    if (name !== undefined) names.add(name);
    const agent = checkAgent(c, c.string(obj, 'agent', `${key}.agent`), `${key}.agent`, baseDir);
    const socketRaw = c.string(obj, 'socket', `${key}.socket`, name === undefined ? '' : `${runDir}/${name}.sock`);
    const monitorIntervalMs = c.integer(obj, 'monitorIntervalMs', `${key}.monitorIntervalMs`, 0, 3_600_000, CONFIG_DEFAULTS.monitorIntervalMs);
    if (monitorIntervalMs !== undefined && monitorIntervalMs > 0 && monitorIntervalMs < 100) {
      c.problem(`${key}.monitorIntervalMs`, `must be 0 (no periodic monitor) or 100..3600000, got ${monitorIntervalMs}`);
    }
    const actionTimeoutMs = c.integer(obj, 'actionTimeoutMs', `${key}.actionTimeoutMs`, 100, 3_600_000, CONFIG_DEFAULTS.actionTimeoutMs);
    const env = checkEnv(c, obj.env, `${key}.env`);
    const heartbeat2 = c.oneOf(obj, 'heartbeat2', HEARTBEAT2_MODES, 'optional', `${key}.heartbeat2`);
    if (name === undefined || agent === undefined || socketRaw === undefined || heartbeat2 === undefined) return;
    if (monitorIntervalMs === undefined || actionTimeoutMs === undefined) return;
    resources.push({ name, agent, socket: resolve(baseDir, socketRaw), monitorIntervalMs, actionTimeoutMs, env, heartbeat2 });
  });
  return resources;
}

const SEED_NAMES: Record<string, string> = {
  diskHbKeepAliveMs: 'DISK_HB_KEEP_ALIVE',
  networkHbTimeoutMs: 'NETWORK_HB_TIMEOUT',
  diskHbIntervalMs: 'DISK_HB_INTERVAL',
};

/** DISK_HB_KEEP_ALIVE: the daemon's and ycsm's one reading of it (range, default from src/core/timeouts.ts). */
export function checkKeepAlive(c: Checker, raw: Raw): number | undefined {
  return c.integer(raw, 'DISK_HB_KEEP_ALIVE', 'DISK_HB_KEEP_ALIVE', 500, 600_000, DEFAULT_BASE_TIMEOUTS.diskHbKeepAliveMs);
}

/**
 * Range checks catch typos (seconds written where milliseconds are meant); the safety
 * rules between the values live in src/core/timeouts.ts (deriveTimeouts), whose verdict is
 * reported here under the key it names.
 */
function checkTimeouts(c: Checker, raw: Raw): { timeouts?: Timeouts; interval?: number } {
  const d = DEFAULT_BASE_TIMEOUTS;
  const keepAlive = checkKeepAlive(c, raw);
  const netTimeout = c.integer(raw, 'NETWORK_HB_TIMEOUT', 'NETWORK_HB_TIMEOUT', 200, 600_000, d.networkHbTimeoutMs);
  const interval =
    raw.DISK_HB_INTERVAL === undefined ? undefined : c.integer(raw, 'DISK_HB_INTERVAL', 'DISK_HB_INTERVAL', 10, 60_000);
  if (keepAlive === undefined || netTimeout === undefined || (raw.DISK_HB_INTERVAL !== undefined && interval === undefined)) {
    return {};
  }
  try {
    const timeouts = deriveTimeouts({
      diskHbKeepAliveMs: keepAlive,
      networkHbTimeoutMs: netTimeout,
      ...(interval === undefined ? {} : { diskHbIntervalMs: interval }),
    });
    return { timeouts, interval };
  } catch (err) {
    const text = (err as Error).message.replace(/^unsafe timeouts: /, '');
    const named = Object.entries(SEED_NAMES).reduce((t, [internal, seed]) => t.replaceAll(internal, seed), text);
    const key = Object.values(SEED_NAMES).find((seed) => named.startsWith(seed)) ?? 'DISK_HB_KEEP_ALIVE';
    c.problem(key, `unsafe: ${named}`);
    return {};
  }
}

/** `http`: off when absent; the address defaults to loopback. */
function checkHttp(c: Checker, raw: Raw): HttpConfig | undefined {
  if (raw.http === undefined) return undefined;
  const obj = c.object(raw.http, 'http');
  if (obj === undefined) return undefined;
  c.unknownKeys(obj, ['address', 'port'], 'http.');
  const address = c.string(obj, 'address', 'http.address', '127.0.0.1');
  if (address !== undefined && isIP(address) === 0) c.problem('http.address', `${JSON.stringify(address)} is not an IP address`);
  const port = c.integer(obj, 'port', 'http.port', 1, 65535);
  return address === undefined || port === undefined ? undefined : { address, port };
}

/** The gid of a group in /etc/group, or undefined. Numeric names are taken as gids. */
export function lookupGroupId(name: string, groupFile = '/etc/group'): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

function absolutePath(c: Checker, raw: Raw, key: string, baseDir: string, fallback?: string): string | undefined {
  const value = c.string(raw, key, key, fallback);
  return value === undefined ? undefined : isAbsolute(value) ? value : resolve(baseDir, value);
}

export function checkTop(c: Checker, raw: Raw, path: string): Config | undefined {
  const baseDir = path === '' ? process.cwd() : dirname(resolve(path));
  c.unknownKeys(raw, TOP_KEYS, '');
  const cluster = c.string(raw, 'cluster', 'cluster');
  const nameProblem = cluster === undefined ? undefined : clusterNameProblem(cluster);
  if (nameProblem !== undefined) c.problem('cluster', nameProblem);
  const hostId = c.integer(raw, 'hostId', 'hostId', 1, 255);
  const hosts = checkHosts(c, raw);
  if (hostId !== undefined && hosts !== undefined && !hosts.some((h) => h.id === hostId)) {
    c.problem('hostId', `host ${hostId} is not in hosts`);
  }
  const arbitration = c.oneOf(raw, 'arbitration', ARBITRATIONS, 'disk');
  const { timeouts, interval } = checkTimeouts(c, raw);
  let votingDisks: string[] | undefined = [];
  let etcd: EtcdConfig | null | undefined = null;
  if (arbitration === 'etcd') {
    if (raw.votingDisks !== undefined) c.problem('votingDisks', 'not used with arbitration "etcd" (etcd holds the master lease): remove it');
    etcd = checkEtcd(c, raw, cluster, timeouts, baseDir);
  } else {
    if (raw.etcd !== undefined) c.problem('etcd', 'only used with arbitration "etcd"');
    votingDisks = checkDisks(c, raw, 'votingDisks', baseDir);
  }
  const dataDisks = checkDisks(c, raw, 'dataDisks', baseDir);
  const fencing = c.oneOf(raw, 'fencing', FENCING_DRIVERS, 'none');
  if (arbitration === 'etcd' && fencing !== undefined && fencing !== 'none' && dataDisks?.length === 0) {
    c.problem('fencing', `${fencing} in etcd mode fences the data disks: list them in dataDisks`);
  }
  const keyFile = absolutePath(c, raw, 'keyFile', baseDir);
  if (keyFile !== undefined) {
    try {
      statSync(keyFile);
    } catch (err) {
      c.problem('keyFile', `${keyFile} is unreachable (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const runDir = absolutePath(c, raw, 'runDir', baseDir, CONFIG_DEFAULTS.runDir);
  const resources = checkResources(c, raw, baseDir, runDir ?? CONFIG_DEFAULTS.runDir);
  const controlSocket = absolutePath(c, raw, 'controlSocket', baseDir, CONFIG_DEFAULTS.controlSocket);
  const controlGroup = c.string(raw, 'controlGroup', 'controlGroup', CONFIG_DEFAULTS.controlGroup);
  if (controlGroup !== undefined && lookupGroupId(controlGroup) === undefined) {
    c.problem('controlGroup', `group ${JSON.stringify(controlGroup)} does not exist`);
  }
  const controlSocketPublic = raw.controlSocketPublic ?? false;
  if (typeof controlSocketPublic !== 'boolean') {
    c.problem('controlSocketPublic', `must be true or false, got ${describe(controlSocketPublic)}`);
  }
  const logLevel = c.oneOf(raw, 'logLevel', LOG_LEVELS, CONFIG_DEFAULTS.logLevel);
  const http = checkHttp(c, raw);
  if (c.problems.length > 0) return undefined;
  // Every value is defined when no problem was recorded; the checks below only narrow types.
  if (cluster === undefined || hostId === undefined || hosts === undefined || votingDisks === undefined) return undefined;
  if (dataDisks === undefined || fencing === undefined || keyFile === undefined || resources === undefined) return undefined;
  if (timeouts === undefined || runDir === undefined || arbitration === undefined || etcd === undefined) return undefined;
  if (controlSocket === undefined || controlGroup === undefined || logLevel === undefined) return undefined;
  return {
    path, cluster, hostId, hosts, arbitration, etcd, votingDisks, dataDisks, fencing, keyFile,
    DISK_HB_KEEP_ALIVE: timeouts.diskHbKeepAliveMs, NETWORK_HB_TIMEOUT: timeouts.networkHbTimeoutMs,
    DISK_HB_INTERVAL: interval, timeouts,
    resources, controlSocket, controlGroup, controlSocketPublic: controlSocketPublic === true, runDir, logLevel, http: http ?? null,
  };
}
