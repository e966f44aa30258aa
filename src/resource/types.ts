// Resource configuration and agent vocabulary shared by the resource manager, the
// heartbeat-2 server and the config loader (src/config/ imports ResourceConfig).
import type { ResourceAction } from '../core/types.js';

/** One managed resource (a database instance, a file system, ...) on this host. */
export interface ResourceConfig {
  /** Unique within the cluster; also the name a database sends in its heartbeat-2 hello. */
  name: string;
  /** Path of an executable run as `AGENT <action>` (docs/resources.md). */
  agent: string;
  /** Period of the `monitor` action; 0 disables periodic monitoring. */
  monitorIntervalMs: number;
  /** Deadline of every agent action; past it the agent's process group is killed. */
  actionTimeoutMs: number;
  /** Extra environment for the agent (YCS_* variables always win). */
  env?: Record<string, string>;
  /** This resource's heartbeat-2 socket; default: the daemon's shared one. */
  socket?: string;
}

/** Default period of an agent's `monitor` action: the one default (the config reads it from here). */
export const DEFAULT_MONITOR_INTERVAL_MS = 2_000;
/** Default deadline of one agent action. */
export const DEFAULT_ACTION_TIMEOUT_MS = 30_000;
/** Between SIGTERM and SIGKILL of a timed-out agent's process group. */
export const AGENT_KILL_GRACE_MS = 2_000;

/** Everything an agent can be asked to do. */
export type AgentAction = ResourceAction | 'monitor';

/** Exit codes of an agent, after OCF (docs/resources.md). */
export const AGENT_EXIT = {
  SUCCESS: 0,
  GENERIC_ERROR: 1,
  NOT_RUNNING: 7,
  RUNNING_PRIMARY: 8,
} as const;

/**
 * The role ycs tells a database it has (heartbeat-2 replies, YCS_ROLE).
 * 'unknown' is never sent by ycs: it is what the client library reports when its lease
 * expired, i.e. when ycs has not answered in time and the database must stop writing.
 */
export type DbRole = 'primary' | 'standby' | 'offline' | 'unknown';

export interface AgentContext {
  hostId: number;
  /** The fencing token: the application rejects writes stamped with an older epoch. */
  epoch: number;
  role: DbRole;
  /** Path of this daemon's heartbeat-2 socket, for the database to connect to. */
  hbSocketPath: string;
}

export interface AgentResult {
  action: AgentAction;
  /** null when the agent was killed by a signal (then `signal` is set). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
  /** The last few KiB of the agent's stdout and stderr, for the log. */
  output: string;
  /** Set when the agent could not be started at all (ENOENT, EACCES, ...). */
  spawnError?: string;
}
