// Runs one resource agent action: `AGENT <action>` in its own process group, with the
// YCS_* environment, under a deadline. A timed-out agent's whole group is killed
// (SIGTERM, then SIGKILL after a grace period) so that a hung `start` cannot leave a
// half-started database behind, and the caller learns the outcome exactly once.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { AgentAction, AgentContext, AgentResult, ResourceConfig } from './types.js';
import { AGENT_KILL_GRACE_MS } from './types.js';

const OUTPUT_TAIL_BYTES = 4096;

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

/** Signals a process group, ignoring "no such process" (the group already exited). */
function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Runs `config.agent action`. Never rejects: spawn failures, signals and timeouts are
 * all described by the result. Resolves when the agent process itself has exited; a
 * database it started in the background keeps running (docs/resources.md: agents must
 * redirect its output, since the pipes stay open while it holds them).
 */
export function runAgent(
  config: ResourceConfig,
  action: AgentAction,
  ctx: AgentContext,
  opts: RunAgentOptions = {},
): Promise<AgentResult> {
  const startedMs = performance.now();
  const killGraceMs = opts.killGraceMs ?? AGENT_KILL_GRACE_MS;
  return new Promise((resolve) => {
    let output = '';
    let capturing = true;
    let timedOut = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const child = spawn(config.agent, [action], {
      detached: true, // own process group, so a timeout can kill everything it started
      stdio: ['ignore', 'pipe', 'pipe'],
      env: agentEnvironment(config, ctx),
    });
    const collect = (chunk: Buffer): void => {
      if (!capturing) return; // keep draining so a background child never blocks on a full pipe
      output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: string): void => {
      if (settled) return;
      settled = true;
      capturing = false;
      for (const timer of timers) clearTimeout(timer);
      const result: AgentResult = {
        action,
        exitCode,
        signal,
        timedOut,
        durationMs: Math.round(performance.now() - startedMs),
        output: output.trim(),
      };
      if (spawnError !== undefined) result.spawnError = spawnError;
      resolve(result);
    };
    child.once('error', (err: NodeJS.ErrnoException) => finish(null, null, `${err.code ?? 'ERROR'}: ${err.message}`));
    // 'exit', not 'close': a database started in the background may hold the pipes open.
    child.once('exit', (code, signal) => {
      // A timed-out action's leftovers (children that ignore SIGTERM) die with it.
      if (timedOut && child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      // Let output already in the pipes arrive before reporting.
      setImmediate(() => finish(code, signal));
    });
    if (child.pid === undefined) return; // the 'error' event follows
    const pgid = child.pid;
    timers.push(
      setTimeout(() => {
        timedOut = true;
        killGroup(pgid, 'SIGTERM');
        timers.push(setTimeout(() => killGroup(pgid, 'SIGKILL'), killGraceMs));
      }, config.actionTimeoutMs),
    );
  });
}

/** True when the result counts as success for `action` (monitor: running as anything). */
export function agentSucceeded(result: AgentResult): boolean {
  if (result.timedOut || result.exitCode === null) return false;
  if (result.action === 'monitor') return result.exitCode === 0 || result.exitCode === 8;
  return result.exitCode === 0;
}
