// The etcd section of the config file (arbitration "etcd", docs/etcd-mode.md): endpoints,
// key prefix, lease TTL, TLS files and credentials. Problems go to the Checker.
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_STORE_TTL_MS, deriveStoreTimeouts } from '../core/store-timeouts.js';
import type { Timeouts } from '../core/timeouts.js';
import { checkPrefix } from '../etcd/store.js';
import { type Checker, describe, type Raw } from './checker.js';
import { ETCD_KEYS, type EtcdConfig } from './types.js';

function file(c: Checker, obj: Raw, key: string, baseDir: string): string | undefined {
  if (obj[key] === undefined) return undefined;
  const value = c.string(obj, key, `etcd.${key}`);
  if (value === undefined) return undefined;
  const path = isAbsolute(value) ? value : resolve(baseDir, value);
  try {
    if (!statSync(path).isFile()) c.problem(`etcd.${key}`, `${path} is not a regular file`);
  } catch (err) {
    c.problem(`etcd.${key}`, `${path} is unreachable (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return path;
}

function endpoint(c: Checker, value: unknown, name: string): string | undefined {
  if (typeof value !== 'string' || !/^https?:\/\/[^/\s]+:\d+\/?$/.test(value)) {
    c.problem(name, `must be an http(s)://host:port URL, got ${describe(value)}`);
    return undefined;
  }
  return value.replace(/\/$/, '');
}

export function checkEtcd(c: Checker, raw: Raw, cluster: string | undefined, timeouts: Timeouts | undefined, baseDir: string): EtcdConfig | undefined {
  if (raw.etcd === undefined) {
    c.problem('etcd', 'is required with arbitration "etcd" (at least etcd.endpoints)');
    return undefined;
  }
  const obj = c.object(raw.etcd, 'etcd');
  if (obj === undefined) return undefined;
  c.unknownKeys(obj, ETCD_KEYS, 'etcd.');
  const list = c.array(obj, 'endpoints', true);
  if (list !== undefined && list.length === 0) c.problem('etcd.endpoints', 'must list at least one endpoint');
  const endpoints = (list ?? []).map((v, i) => endpoint(c, v, `etcd.endpoints[${i}]`));
  const prefix = c.string(obj, 'prefix', 'etcd.prefix', cluster === undefined ? '/ycs' : `/ycs/${cluster}`);
  const bad = prefix === undefined ? null : checkPrefix(prefix);
  if (bad !== null) c.problem('etcd.prefix', bad.replace(/^etcd prefix /, ''));
  const ttl = c.integer(obj, 'leaseTtlMs', 'etcd.leaseTtlMs', 2_000, 60_000, DEFAULT_STORE_TTL_MS);
  if (ttl !== undefined && ttl % 1_000 !== 0) c.problem('etcd.leaseTtlMs', `must be a whole number of seconds (etcd leases count seconds), got ${ttl}`);
  const caFile = file(c, obj, 'caFile', baseDir);
  const certFile = file(c, obj, 'certFile', baseDir);
  const keyFile = file(c, obj, 'keyFile', baseDir);
  if ((certFile === undefined) !== (keyFile === undefined)) c.problem('etcd.certFile', 'certFile and keyFile go together (client certificate and its key)');
  if ((certFile !== undefined || keyFile !== undefined) && caFile === undefined) c.problem('etcd.caFile', 'is required with a client certificate');
  const username = obj.username === undefined ? undefined : c.string(obj, 'username', 'etcd.username');
  const passwordFile = file(c, obj, 'passwordFile', baseDir);
  if ((username === undefined) !== (passwordFile === undefined)) c.problem('etcd.username', 'username and passwordFile go together');
  if (endpoints.some((e) => e?.startsWith('https:')) && caFile === undefined) c.problem('etcd.caFile', 'is required with https:// endpoints');
  if (ttl === undefined || prefix === undefined || timeouts === undefined || endpoints.some((e) => e === undefined)) return undefined;
  if (c.problems.length > 0) return undefined;
  return {
    endpoints: endpoints as string[],
    prefix,
    leaseTtlMs: ttl,
    store: deriveStoreTimeouts(ttl, timeouts),
    ...(caFile ? { caFile } : {}),
    ...(certFile ? { certFile } : {}),
    ...(keyFile ? { keyFile } : {}),
    ...(username !== undefined && passwordFile !== undefined ? { username, passwordFile } : {}),
  };
}

/** The TLS material and credentials of an etcd section, read when the daemon starts. */
export function etcdSecrets(e: EtcdConfig): { tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer }; auth?: { username: string; password: string } } {
  const tls = e.caFile === undefined ? undefined : { ca: readFileSync(e.caFile), ...(e.certFile ? { cert: readFileSync(e.certFile) } : {}), ...(e.keyFile ? { key: readFileSync(e.keyFile) } : {}) };
  const auth = e.username === undefined || e.passwordFile === undefined ? undefined : { username: e.username, password: readFileSync(e.passwordFile, 'utf8').trim() };
  return { ...(tls ? { tls } : {}), ...(auth ? { auth } : {}) };
}
