// The control socket protocol (docs/control-protocol.md): one JSON request per line,
// `{id, command, args}`, answered by one JSON line, `{id, ok, result | error}`. Shared by
// the daemon's server (src/daemon/control.ts) and the client (src/control/client.ts).

/** The longest request line the daemon reads; a longer one is refused with E_PROTOCOL. */
export const MAX_LINE_BYTES = 64 * 1024;
/** The longest response line a client reads (a status of 255 hosts fits many times over). */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export interface ControlResponse {
  id: string | number | null;
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string };
}
