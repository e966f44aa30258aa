// The client side of the control socket (docs/control-protocol.md), used by ycsctl.
// One connection per call: the daemon's answer or one YcsError, never a hang.
import { connect } from 'node:net';
import { YcsError, type YcsErrorCode } from '../errors.js';
import { LineSplitter } from '../net/lines.js';
import { MAX_RESPONSE_BYTES } from './protocol.js';

export const DEFAULT_CALL_TIMEOUT_MS = 5000;

const KNOWN_CODES = new Set<string>([
  'E_USAGE', 'E_INVALID_ARGUMENT', 'E_CONFIG', 'E_NOT_FOUND', 'E_ACCESS', 'E_READ_ONLY', 'E_MISALIGNED', 'E_IO',
  'E_NO_SPACE', 'E_DISK_TIMEOUT', 'E_DISK_STALLED', 'E_CLOSED', 'E_DEVICE_TOO_SMALL', 'E_NOT_INITIALIZED',
  'E_ALREADY_INITIALIZED', 'E_CORRUPT', 'E_FOREIGN_CLUSTER', 'E_UNSUPPORTED_VERSION', 'E_RESERVATION_CONFLICT',
  'E_PR_UNSUPPORTED', 'E_SCSI', 'E_ISCSI', 'E_FENCE_FAILED', 'E_DAEMON_DOWN', 'E_PERMISSION', 'E_PROTOCOL',
  'E_NOT_MASTER', 'E_REFUSED', 'E_ETCD', 'E_INTERNAL',
]);

let nextId = 1;

function connectError(err: NodeJS.ErrnoException, socketPath: string): YcsError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
    case 'ENOTDIR':
      return new YcsError('E_DAEMON_DOWN', `ycs is not running on this host (no control socket at ${socketPath})`, {
        errno: err.code,
        cause: err,
      });
    case 'EACCES':
    case 'EPERM':
      return new YcsError(
        'E_PERMISSION',
        `permission denied on the control socket ${socketPath} (run as root or as a member of the control group)`,
        { errno: err.code, cause: err },
      );
    default:
      return new YcsError('E_PROTOCOL', `control socket ${socketPath}: ${err.code ?? err.message}`, { errno: err.code, cause: err });
  }
}

function responseError(response: unknown, socketPath: string): YcsError {
  const error = (response as { error?: { code?: unknown; message?: unknown } }).error;
  const code = typeof error?.code === 'string' && KNOWN_CODES.has(error.code) ? (error.code as YcsErrorCode) : 'E_PROTOCOL';
  const message = typeof error?.message === 'string' ? error.message : `malformed error response from ${socketPath}`;
  return new YcsError(code, message);
}

/**
 * Sends one command to the daemon and resolves with its result. Rejects with E_DAEMON_DOWN
 * when no daemon listens, E_PERMISSION when the socket refuses us, the daemon's own error
 * code when the command failed, and E_DAEMON_DOWN when no answer arrives in timeoutMs.
 */
export function callDaemon(
  socketPath: string,
  command: string,
  args: Record<string, unknown> = {},
  timeoutMs = DEFAULT_CALL_TIMEOUT_MS,
): Promise<unknown> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const splitter = new LineSplitter(MAX_RESPONSE_BYTES);
    let settled = false;
    const finish = (err: YcsError | undefined, result?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(result);
    };
    const timer = setTimeout(
      () => finish(new YcsError('E_DAEMON_DOWN', `ycs did not answer ${command} within ${timeoutMs} ms on ${socketPath}`)),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify({ id, command, args })}\n`));
    socket.on('error', (err: NodeJS.ErrnoException) => finish(connectError(err, socketPath)));
    socket.on('close', () => finish(new YcsError('E_PROTOCOL', `ycs closed the control connection without answering ${command}`)));
    socket.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (err) {
        return finish(new YcsError('E_PROTOCOL', `ycs sent a response ${(err as Error).message} on ${socketPath}`));
      }
      const first = lines[0];
      if (first === undefined) return;
      let response: unknown;
      try {
        response = JSON.parse(first);
      } catch {
        return finish(new YcsError('E_PROTOCOL', `ycs sent a malformed response on ${socketPath}`));
      }
      const r = response as { id?: unknown; ok?: unknown; result?: unknown };
      if (r.id !== id && r.id !== null) return finish(new YcsError('E_PROTOCOL', `response id ${String(r.id)} does not match ${id}`));
      if (r.ok === true) finish(undefined, r.result);
      else finish(responseError(response, socketPath));
    });
  });
}
