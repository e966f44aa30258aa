// Network heartbeat 2 wire protocol, version 1 (docs/heartbeat2-protocol.md).
// Newline-delimited JSON over a Unix stream socket; one object per line, UTF-8,
// at most HB2_MAX_LINE_BYTES per line. The one codec shared by the server (the daemon)
// and the client library (src/client), so the two cannot drift apart.
import type { DbRole } from './types.js';

export const HB2_VERSION = 1;
export const HB2_MAX_LINE_BYTES = 1024;

/** Database -> ycs. */
export type Hb2ClientMessage =
  | { v: 1; type: 'hello'; resource: string; pid: number }
  | { v: 1; type: 'heartbeat'; seq: number };

/** ycs -> database. Only 'ack' extends the lease; 'role' may only take authority away early. */
export type Hb2ServerMessage =
  | { v: 1; type: 'welcome'; resource: string; hostId: number; role: DbRole; epoch: number; leaseMs: number; timeoutMs: number }
  | { v: 1; type: 'ack'; seq: number; role: DbRole; epoch: number; leaseMs: number }
  | { v: 1; type: 'role'; role: DbRole; epoch: number }
  | { v: 1; type: 'error'; code: string; message: string };

export type Decoded<T> = { ok: true; message: T } | { ok: false; code: 'E_PROTOCOL' | 'E_UNSUPPORTED_VERSION'; reason: string };

const ROLES: readonly string[] = ['primary', 'standby', 'offline', 'unknown'];
const RESOURCE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function encodeHb2(message: Hb2ClientMessage | Hb2ServerMessage): string {
  return `${JSON.stringify(message)}\n`;
}

function fail(reason: string): { ok: false; code: 'E_PROTOCOL'; reason: string } {
  return { ok: false, code: 'E_PROTOCOL', reason };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Parses one line into an object with a supported version, or says why not. */
function parseEnvelope(line: string): Decoded<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return fail('line is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('message is not a JSON object');
  const record = value as Record<string, unknown>;
  if (record.v !== HB2_VERSION) {
    return { ok: false, code: 'E_UNSUPPORTED_VERSION', reason: `unsupported protocol version ${JSON.stringify(record.v)} (this ycs speaks 1)` };
  }
  if (typeof record.type !== 'string') return fail('message has no "type"');
  return { ok: true, message: record };
}

export function decodeClientMessage(line: string): Decoded<Hb2ClientMessage> {
  const envelope = parseEnvelope(line);
  if (!envelope.ok) return envelope;
  const m = envelope.message;
  switch (m.type) {
    case 'hello':
      if (typeof m.resource !== 'string' || !RESOURCE_NAME.test(m.resource)) return fail('hello: "resource" must be a name of 1-64 [A-Za-z0-9_.-]');
      if (!isCount(m.pid) || m.pid < 1) return fail('hello: "pid" must be a positive integer');
      return { ok: true, message: { v: 1, type: 'hello', resource: m.resource, pid: m.pid } };
    case 'heartbeat':
      if (!isCount(m.seq)) return fail('heartbeat: "seq" must be a non-negative integer');
      return { ok: true, message: { v: 1, type: 'heartbeat', seq: m.seq } };
    default:
      return fail(`unknown message type ${JSON.stringify(m.type)}`);
  }
}

function isRole(value: unknown): value is DbRole {
  return typeof value === 'string' && ROLES.includes(value);
}

export function decodeServerMessage(line: string): Decoded<Hb2ServerMessage> {
  const envelope = parseEnvelope(line);
  if (!envelope.ok) return envelope;
  const m = envelope.message;
  const authorityOk = isRole(m.role) && isCount(m.epoch);
  switch (m.type) {
    case 'welcome':
      if (!authorityOk || !isCount(m.leaseMs) || !isCount(m.timeoutMs) || !isCount(m.hostId) || typeof m.resource !== 'string') {
        return fail('malformed welcome');
      }
      return { ok: true, message: m as Hb2ServerMessage };
    case 'ack':
      if (!authorityOk || !isCount(m.seq) || !isCount(m.leaseMs)) return fail('malformed ack');
      return { ok: true, message: m as Hb2ServerMessage };
    case 'role':
      if (!authorityOk) return fail('malformed role');
      return { ok: true, message: m as Hb2ServerMessage };
    case 'error':
      return { ok: true, message: { v: 1, type: 'error', code: String(m.code), message: String(m.message) } };
    default:
      return fail(`unknown message type ${JSON.stringify(m.type)}`);
  }
}

