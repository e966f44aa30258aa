// The cluster key authenticates network heartbeat 1 (HMAC-SHA256). It is a file of at
// least 32 random bytes, the same on every host, readable by root (and the ycs group) only:
// anyone who can read it can forge heartbeats and keep a dead master "alive".
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { YcsError } from '../errors.js';

export const MIN_CLUSTER_KEY_BYTES = 32;

/** Reads and checks the cluster key file; throws a one-line E_CONFIG YcsError on any problem. */
export function loadClusterKey(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new YcsError('E_CONFIG', `cluster key file ${path} cannot be opened (${code})`, { errno: code, op: 'open' });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new YcsError('E_CONFIG', `cluster key file ${path} is not a regular file`);
    if ((stat.mode & 0o007) !== 0) {
      const mode = (stat.mode & 0o777).toString(8);
      throw new YcsError('E_CONFIG', `cluster key file ${path} is accessible to other users (mode ${mode}); chmod 600 or 640`);
    }
    const key = readFileSync(fd);
    if (key.length < MIN_CLUSTER_KEY_BYTES) {
      throw new YcsError(
        'E_CONFIG',
        `cluster key file ${path} holds ${key.length} bytes; at least ${MIN_CLUSTER_KEY_BYTES} random bytes are needed`,
      );
    }
    return key;
  } finally {
    closeSync(fd);
  }
}

/** Writes a new random key (mode 0600), refusing to overwrite an existing file. */
export function writeClusterKey(path: string, bytes = MIN_CLUSTER_KEY_BYTES): void {
  try {
    writeFileSync(path, randomBytes(bytes), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new YcsError('E_CONFIG', `cannot create cluster key file ${path} (${code})`, { errno: code, op: 'create' });
  }
}
