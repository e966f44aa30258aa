// The agent runner and the resource manager with real shell-script agents.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Input } from '../../src/core/types.js';
import { processStartTime } from '../../src/monitor/channel.js';
import { agentSucceeded, runAgent } from '../../src/resource/agent.js';
import { ResourceManager } from '../../src/resource/manager.js';
import type { AgentContext, ResourceConfig } from '../../src/resource/types.js';
import { scratchDir } from '../helpers/loop.js';
import { isAlive } from '../helpers/processes.js';
import { waitFor as pollUntil } from '../helpers/wait.js';

let scratch: { dir: string; remove(): void };
// Processes a test may leave behind if it fails, with their start times, so that the
// cleanup never kills a recycled pid that belongs to someone else.
const strayPids: Array<{ pid: number; start: string | undefined }> = [];

beforeEach(() => {
  scratch = scratchDir('ycs-agent-');
});
afterEach(() => {
  for (const { pid, start } of strayPids.splice(0)) {
    if (start === undefined || processStartTime(pid) !== start) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  scratch.remove();
});

function agentScript(name: string, body: string): string {
  const path = join(scratch.dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function config(agent: string, extra: Partial<ResourceConfig> = {}): ResourceConfig {
  return { name: 'yasdb', agent, monitorIntervalMs: 0, actionTimeoutMs: 5_000, ...extra };
}

const ctx: AgentContext = { hostId: 3, epoch: 42, role: 'standby', hbSocketPath: '/run/ycs/hb2.sock' };

const waitFor = (check: () => boolean, timeoutMs = 3_000): Promise<void> => pollUntil(check, timeoutMs, 20);

describe('runAgent', () => {
  it('reports the OCF-like exit codes per action', async () => {
    const agent = agentScript('codes.sh', [
      'case "$1" in',
      '  start) exit 0 ;;',
      '  monitor) echo "not here" >&2; exit 7 ;;',
      '  promote) exit 1 ;;',
      '  demote) exit 8 ;;',
      'esac',
      'exit 3',
    ].join('\n'));
    const start = await runAgent(config(agent), 'start', ctx);
    const monitor = await runAgent(config(agent), 'monitor', ctx);
    const promote = await runAgent(config(agent), 'promote', ctx);
    const stop = await runAgent(config(agent), 'stop', ctx);
    expect(start).toMatchObject({ exitCode: 0, timedOut: false, signal: null });
    expect(agentSucceeded(start)).toBe(true);
    expect(monitor).toMatchObject({ exitCode: 7, output: 'not here' });
    expect(agentSucceeded(monitor)).toBe(false);
    expect(agentSucceeded(promote)).toBe(false);
    expect(stop.exitCode).toBe(3);
    const primaryMonitor = agentScript('primary.sh', 'exit 8');
    expect(agentSucceeded(await runAgent(config(primaryMonitor), 'monitor', ctx))).toBe(true);
  });

  it('passes the YCS_* environment, which wins over the resource env', async () => {
    const out = join(scratch.dir, 'env.txt');
    const agent = agentScript('env.sh', `env | grep -E '^(YCS_|CUSTOM)' | sort > ${out}`);
    const result = await runAgent(config(agent, { env: { CUSTOM: 'x', YCS_EPOCH: '1' } }), 'promote', ctx);
    expect(result.exitCode).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toEqual([
      'CUSTOM=x',
      'YCS_EPOCH=42',
      'YCS_HB_SOCKET=/run/ycs/hb2.sock',
      'YCS_HOST_ID=3',
      'YCS_RESOURCE=yasdb',
      'YCS_ROLE=standby',
    ]);
  });

  it('kills the whole process group of a timed-out agent, also children ignoring SIGTERM', async () => {
    const pids = join(scratch.dir, 'pids');
    const agent = agentScript('hang.sh', [
      `(trap '' TERM; sleep 60) &`,
      `echo $$ $! > ${pids}`,
      'sleep 60',
    ].join('\n'));
    const result = await runAgent(config(agent, { actionTimeoutMs: 300 }), 'start', ctx, { killGraceMs: 300 });
    const [leader, child] = readFileSync(pids, 'utf8').trim().split(' ').map(Number) as [number, number];
    strayPids.push({ pid: leader, start: processStartTime(leader) }, { pid: child, start: processStartTime(child) });
    expect(result.timedOut).toBe(true);
    expect(agentSucceeded(result)).toBe(false);
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
    expect(result.durationMs).toBeLessThan(2_000);
    await waitFor(() => !isAlive(leader) && !isAlive(child));
  });

  it('gives the agent one pipe for stdout and stderr, keeps its last 4 KiB, and default signal dispositions', async () => {
    const ordered = agentScript('ordered.sh', 'echo one; echo two >&2; echo three');
    expect((await runAgent(config(ordered), 'monitor', ctx)).output).toBe('one\ntwo\nthree');
    const chatty = agentScript('chatty.sh', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done');
    const tail = (await runAgent(config(chatty), 'monitor', ctx)).output;
    expect(tail.length).toBeLessThanOrEqual(4096);
    expect(tail.endsWith('line 1999')).toBe(true);
    // The daemon (Node) ignores SIGPIPE; the agent must not inherit that.
    const piped = agentScript('sigpipe.sh', 'kill -PIPE $$; exit 0');
    expect(await runAgent(config(piped), 'monitor', ctx)).toMatchObject({ exitCode: null, signal: 'SIGPIPE' });
  });

  it('returns when the agent exits although a background child holds its pipe, and drains that child', async () => {
    const pids = join(scratch.dir, 'bg.pid');
    const marker = join(scratch.dir, 'wrote');
    // The child writes 1 MB after the agent exited: more than a pipe holds, so it finishes
    // only if somebody still reads the pipe.
    const agent = agentScript('leaky.sh', [
      `(sleep 0.3; head -c 1000000 /dev/zero; touch ${marker}; sleep 30) &`,
      `echo $! > ${pids}`,
      'exit 0',
    ].join('\n'));
    const result = await runAgent(config(agent), 'start', ctx);
    const child = Number(readFileSync(pids, 'utf8').trim());
    strayPids.push({ pid: child, start: processStartTime(child) });
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    expect(result.durationMs).toBeLessThan(5_000); // not held until the child closes the pipe (30 s)
    await waitFor(() => existsSync(marker));
    expect(isAlive(child)).toBe(true);
  });

  it('reports an agent that cannot be run instead of throwing', async () => {
    const result = await runAgent(config(join(scratch.dir, 'missing.sh')), 'start', ctx);
    expect(result.spawnError).toMatch(/ENOENT/);
    expect(agentSucceeded(result)).toBe(false);
    const notExecutable = join(scratch.dir, 'plain.sh');
    writeFileSync(notExecutable, 'exit 0\n');
    expect((await runAgent(config(notExecutable), 'start', ctx)).spawnError).toMatch(/EACCES/);
  });
});

describe('ResourceManager', () => {
  const logger = pino({ level: 'silent' });

  it('serializes actions per resource and reports each result in order', async () => {
    const trace = join(scratch.dir, 'trace');
    const agent = agentScript('slow.sh', [
      `echo "begin $1 $YCS_ROLE $YCS_EPOCH" >> ${trace}`,
      'sleep 0.2',
      `echo "end $1" >> ${trace}`,
      '[ "$1" = promote ] && exit 1',
      'exit 0',
    ].join('\n'));
    const inputs: Input[] = [];
    const manager = new ResourceManager({
      resources: [config(agent)], hostId: 1, hbSocketPath: '/x', logger, now: () => 7, onInput: (i) => inputs.push(i),
    });
    const roles: string[] = [];
    manager.onAuthorityChange((_, a) => roles.push(`${a.role}@${a.epoch}`));
    manager.handle({ kind: 'resource', resource: 0, action: 'start', epoch: 2 });
    manager.handle({ kind: 'resource', resource: 0, action: 'promote', epoch: 3 });
    await waitFor(() => inputs.length === 2);
    await manager.stop();
    expect(readFileSync(trace, 'utf8').trim().split('\n')).toEqual([
      'begin start standby 2', 'end start', 'begin promote primary 3', 'end promote',
    ]);
    expect(inputs).toEqual([
      { kind: 'resource-action-done', nowMs: 7, resource: 0, action: 'start', ok: true },
      { kind: 'resource-action-done', nowMs: 7, resource: 0, action: 'promote', ok: false },
    ]);
    // The queued start was superseded by the promote before its turn, so it granted
    // nothing; the failed promote took the primary authority back.
    expect(roles).toEqual(['primary@3', 'standby@3']);
    expect(manager.authority(0)).toEqual({ role: 'standby', epoch: 3 });
  });

  it('takes write authority away at once, while another action is still running', async () => {
    const agent = agentScript('sleepy.sh', 'sleep 0.3');
    const inputs: Input[] = [];
    const manager = new ResourceManager({
      resources: [config(agent)], hostId: 1, hbSocketPath: '/x', logger, now: () => 0, onInput: (i) => inputs.push(i),
    });
    manager.handle({ kind: 'resource', resource: 0, action: 'promote', epoch: 5 });
    await waitFor(() => manager.authority(0).role === 'primary');
    manager.handle({ kind: 'resource', resource: 0, action: 'stop', epoch: 5 });
    expect(manager.authority(0)).toEqual({ role: 'offline', epoch: 5 });
    expect(inputs).toEqual([]); // the promote is still running
    await waitFor(() => inputs.length === 2);
    await manager.stop();
    expect(manager.authority(0)).toEqual({ role: 'offline', epoch: 5 });
  });

  it('revokes primary authority at once, and a queued promote does not grant it back', async () => {
    const agent = agentScript('sleepy2.sh', 'sleep 0.2');
    const inputs: Input[] = [];
    const manager = new ResourceManager({
      resources: [config(agent)], hostId: 1, hbSocketPath: '/x', logger, now: () => 0, onInput: (i) => inputs.push(i),
    });
    manager.handle({ kind: 'resource', resource: 0, action: 'promote', epoch: 6 });
    await waitFor(() => manager.authority(0).role === 'primary');
    manager.handle({ kind: 'resource', resource: 0, action: 'promote', epoch: 7 }); // queued behind the first
    manager.revokePrimary('master window expired');
    expect(manager.authority(0)).toEqual({ role: 'standby', epoch: 6 });
    await waitFor(() => inputs.length === 2);
    await manager.stop();
    expect(manager.authority(0).role).toBe('standby');
  });

  it('monitors periodically once started and reports monitor-failed on exit 7', async () => {
    const flag = join(scratch.dir, 'running');
    const agent = agentScript('mon.sh', [
      'case "$1" in',
      `  start) touch ${flag} ;;`,
      `  monitor) [ -e ${flag} ] && exit 0; exit 7 ;;`,
      'esac',
    ].join('\n'));
    const events: string[] = [];
    const manager = new ResourceManager({
      resources: [config(agent, { monitorIntervalMs: 50 })], hostId: 1, hbSocketPath: '/x', logger, now: () => 0,
      onInput: (i) => { if (i.kind === 'resource-event') events.push(i.event); },
    });
    manager.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(events).toEqual([]); // offline: nothing to monitor
    manager.handle({ kind: 'resource', resource: 0, action: 'start', epoch: 1 });
    await waitFor(() => events.includes('monitor-ok'));
    writeFileSync(flag, '');
    const { unlinkSync } = await import('node:fs');
    unlinkSync(flag);
    await waitFor(() => events.at(-1) === 'monitor-failed');
    await manager.stop();
    const count = events.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(events.length).toBe(count); // no monitors after stop()
  });
});
