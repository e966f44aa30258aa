// One error class crosses every boundary (native addon, daemon, CLI) with a stable code.
// The CLI prints `code: message` on one line and exits non-zero.

export type YcsErrorCode =
  // arguments and configuration
  | 'E_USAGE'
  | 'E_INVALID_ARGUMENT'
  | 'E_CONFIG'
  // device access and sector I/O
  | 'E_NOT_FOUND'
  | 'E_ACCESS'
  | 'E_READ_ONLY'
  | 'E_MISALIGNED'
  | 'E_IO'
  | 'E_NO_SPACE'
  | 'E_DISK_TIMEOUT'
  | 'E_DISK_STALLED'
  | 'E_CLOSED'
  | 'E_DEVICE_TOO_SMALL'
  // voting disk contents
  | 'E_NOT_INITIALIZED'
  | 'E_ALREADY_INITIALIZED'
  | 'E_CORRUPT'
  | 'E_FOREIGN_CLUSTER'
  | 'E_UNSUPPORTED_VERSION'
  // fencing
  | 'E_RESERVATION_CONFLICT'
  | 'E_PR_UNSUPPORTED'
  | 'E_SCSI'
  | 'E_ISCSI'
  | 'E_FENCE_FAILED'
  // etcd mode: a call to the etcd cluster failed or timed out
  | 'E_ETCD'
  // daemon and control socket
  | 'E_DAEMON_DOWN'
  | 'E_PERMISSION'
  | 'E_PROTOCOL'
  | 'E_NOT_MASTER'
  | 'E_REFUSED'
  | 'E_INTERNAL'
  // ycsm
  | 'E_RESTART_LIMIT';

export interface YcsErrorDetails {
  /** errno name from the kernel, e.g. "EIO", "EINVAL", "EBADE". */
  errno?: string;
  /** Device path or URL the error concerns. */
  device?: string;
  /** Operation name, e.g. "read", "write", "open", "pr-out". */
  op?: string;
  /** Byte offset of the failed I/O. */
  offset?: number;
  cause?: unknown;
}

export class YcsError extends Error {
  readonly code: YcsErrorCode;
  readonly errno: string | undefined;
  readonly device: string | undefined;
  readonly op: string | undefined;
  readonly offset: number | undefined;

  constructor(code: YcsErrorCode, message: string, details: YcsErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'YcsError';
    this.code = code;
    this.errno = details.errno;
    this.device = details.device;
    this.op = details.op;
    this.offset = details.offset;
  }

  /** The one-line form the CLI prints. */
  toLine(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function isYcsError(err: unknown, code?: YcsErrorCode): err is YcsError {
  return err instanceof YcsError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a YcsError so callers deal with one type. */
export function toYcsError(err: unknown): YcsError {
  if (err instanceof YcsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new YcsError('E_INTERNAL', message, { cause: err });
}
