// Runs one resource agent action: `AGENT <action>` in its own process group, with the
// YCS_* environment, under a deadline. A timed-out agent's whole group is killed
// (SIGTERM, then SIGKILL after a grace period) so that a hung `start` cannot leave a
// half-started database behind, and the caller learns the outcome exactly once.
// The process is started, watched and reaped on a thread of the addon
// (native/process_spawn.cc), not with child_process.spawn, which forks on the event loop's
// thread and blocks it until the child has exec'd (7-35 ms per spawn on a loaded machine:
// the monitor action runs every few seconds, the heartbeats are timers on that loop).
import { constants } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadNative } from '../native.js';
import type { AgentAction, AgentContext, AgentResult, ResourceConfig } from './types.js';
import { AGENT_KILL_GRACE_MS } from './types.js';

const OUTPUT_TAIL_BYTES = 4096;

/** The addon's runProcess (native/process_spawn.cc). */
export interface RunProcessNative {
  runProcess(
    file: string,
    args: string[],
    env: string[],
    options: { timeoutMs: number; killGraceMs: number; outputTailBytes: number },
  ): Promise<{ exitCode: number | null; signal: number | null; timedOut: boolean; output: string; spawnError?: string }>;
}

export interface RunAgentOptions {
  /** Override of AGENT_KILL_GRACE_MS (tests use a short one). */
  killGraceMs?: number;
}

/** The environment an agent sees: the daemon's, the resource's `env`, then YCS_* (which win). */
export function agentEnvironment(config: ResourceConfig, ctx: AgentContext): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...(config.env ?? {}),
    YCS_RESOURCE: config.name,
    YCS_HOST_ID: String(ctx.hostId),
    YCS_EPOCH: String(ctx.epoch),
    YCS_ROLE: ctx.role,
    YCS_HB_SOCKET: ctx.hbSocketPath,
  };
}

/** An environment as execve takes it: `NAME=value` strings, unset names left out. */
export function environmentList(env: NodeJS.ProcessEnv): string[] {
  return Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]),
);

/**
 * Runs `config.agent action` (the agent is a path, not looked up in PATH). Never rejects:
 * spawn failures, signals and timeouts are all described by the result. Resolves when the
 * agent process itself has exited; a database it started in the background keeps running
 * (docs/resources.md: agents must redirect its output; until it does, the addon drains it).
 */
export async function runAgent(
  config: ResourceConfig,
  action: AgentAction,
  ctx: AgentContext,
  opts: RunAgentOptions = {},
): Promise<AgentResult> {
  const startedMs = performance.now();
  const outcome = await loadNative<RunProcessNative>().runProcess(config.agent, [action], environmentList(agentEnvironment(config, ctx)), {
    timeoutMs: config.actionTimeoutMs,
    killGraceMs: opts.killGraceMs ?? AGENT_KILL_GRACE_MS,
    outputTailBytes: OUTPUT_TAIL_BYTES,
  });
  const result: AgentResult = {
    action,
    exitCode: outcome.exitCode,
    signal: outcome.signal === null ? null : (SIGNAL_NAMES.get(outcome.signal) ?? null),
    timedOut: outcome.timedOut,
    durationMs: Math.round(performance.now() - startedMs),
    output: outcome.output.trim(),
  };
  if (outcome.spawnError !== undefined) result.spawnError = outcome.spawnError;
  return result;
}

/** True when the result counts as success for `action` (monitor: running as anything). */
export function agentSucceeded(result: AgentResult): boolean {
  if (result.timedOut || result.exitCode === null) return false;
  if (result.action === 'monitor') return result.exitCode === 0 || result.exitCode === 8;
  return result.exitCode === 0;
}
