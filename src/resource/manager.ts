// Drives this host's resources for the engine: runs the agent actions the engine asks
// for (its 'resource' outputs), one at a time per resource, runs the periodic monitor,
// and reports results back as engine inputs. It decides nothing: restarting a failed
// resource on a standby, or giving up the master role, are the engine's decisions.
//
// It also holds the authority each resource currently has (role + epoch), which the
// heartbeat-2 server hands to the database. A demote or stop takes the write permission
// away the moment the engine asks, even while another action is still running; a
// promote grants it when its turn comes (the engine only emits promote once it is safe)
// unless a later request superseded it.
import type { Logger } from 'pino';
import type { Input, Output, ResourceAction } from '../core/types.js';
import { agentSucceeded, runAgent } from './agent.js';
import type { AgentAction, AgentResult, DbRole, ResourceConfig } from './types.js';

export type ResourceOutput = Extract<Output, { kind: 'resource' }>;

export interface ResourceAuthority {
  role: DbRole;
  epoch: number;
}

export interface ResourceManagerOptions {
  resources: ResourceConfig[];
  hostId: number;
  hbSocketPath: string;
  logger: Logger;
  /** The daemon's monotonic clock, stamped on every input. */
  now: () => number;
  /** Receives 'resource-action-done' and 'resource-event' inputs for the engine. */
  onInput: (input: Input) => void;
  killGraceMs?: number;
}

interface ResourceSlot {
  config: ResourceConfig;
  authority: ResourceAuthority;
  queue: Promise<void>;
  pending: number; // actions queued or running
  requestSeq: number; // engine requests seen; the latest one owns the authority
  monitorTimer: NodeJS.Timeout | undefined;
}

const ROLE_AT_ACTION_START: Record<ResourceAction, DbRole> = {
  start: 'standby',
  promote: 'primary',
  demote: 'standby',
  stop: 'offline',
};

export class ResourceManager {
  private readonly slots: ResourceSlot[];
  private readonly log: Logger;
  private readonly roleListeners: Array<(index: number, authority: ResourceAuthority) => void> = [];
  private running = false;

  constructor(private readonly opts: ResourceManagerOptions) {
    this.log = opts.logger.child({ subsystem: 'resource' });
    this.slots = opts.resources.map((config) => ({
      config,
      // 'unknown' until the engine's first action: a database that outlived a ycs crash and
      // reconnects must not hear 'offline' (it would give up its role) before the engine
      // has adopted it (docs/engine.md, restart).
      authority: { role: 'unknown', epoch: 0 },
      queue: Promise.resolve(),
      pending: 0,
      requestSeq: 0,
      monitorTimer: undefined,
    }));
  }

  get names(): string[] {
    return this.slots.map((slot) => slot.config.name);
  }

  indexOf(name: string): number {
    return this.slots.findIndex((slot) => slot.config.name === name);
  }

  authority(index: number): ResourceAuthority {
    const slot = this.slot(index);
    return { ...slot.authority };
  }

  /** Called whenever a resource's role or epoch changes (the hb2 server pushes it). */
  onAuthorityChange(listener: (index: number, authority: ResourceAuthority) => void): void {
    this.roleListeners.push(listener);
  }

  /** Starts the periodic monitors. Actions are accepted before and after. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.slots.forEach((slot, index) => this.scheduleMonitor(index, slot));
  }

  /** Carries out one engine output. Queued behind any action already running on it. */
  handle(output: ResourceOutput): void {
    const slot = this.slot(output.resource);
    const requestSeq = ++slot.requestSeq;
    const authorityOf = (): ResourceAuthority => ({
      role: ROLE_AT_ACTION_START[output.action],
      epoch: Math.max(slot.authority.epoch, output.epoch),
    });
    // Taking write authority away must not wait behind a running action.
    if (output.action === 'demote' || output.action === 'stop') this.setAuthority(output.resource, authorityOf());
    this.enqueue(output.resource, async () => {
      // Granting waits its turn, and is skipped when a later request superseded it.
      if (requestSeq === slot.requestSeq) this.setAuthority(output.resource, authorityOf());
      // The agent sees the role and epoch this action is for (YCS_ROLE, YCS_EPOCH).
      const result = await this.run(output.resource, output.action, authorityOf());
      const ok = agentSucceeded(result);
      if (!ok && output.action === 'promote') {
        this.setAuthority(output.resource, { role: 'standby', epoch: slot.authority.epoch });
      }
      this.opts.onInput({
        kind: 'resource-action-done',
        nowMs: this.opts.now(),
        resource: output.resource,
        action: output.action,
        ok,
      });
    });
  }

  /**
   * Takes primary authority from every resource at once, e.g. when this host stops being
   * master (role-change output) while a promote is still running. The engine's own
   * demote or stop follows; this only makes sure no database writes meanwhile.
   */
  revokePrimary(reason: string): void {
    this.slots.forEach((slot, index) => {
      if (slot.authority.role !== 'primary') return;
      slot.requestSeq++; // a promote still queued must not grant it back
      this.log.warn({ resource: slot.config.name, reason }, `primary authority of ${slot.config.name} revoked: ${reason}`);
      this.setAuthority(index, { role: 'standby', epoch: slot.authority.epoch });
    });
  }

  /** Stops the monitors and waits for the actions in flight. Does not stop resources. */
  async stop(): Promise<void> {
    this.running = false;
    for (const slot of this.slots) clearTimeout(slot.monitorTimer);
    await Promise.all(this.slots.map((slot) => slot.queue));
  }

  private slot(index: number): ResourceSlot {
    const slot = this.slots[index];
    if (slot === undefined) throw new RangeError(`no resource #${index} (have ${this.slots.length})`);
    return slot;
  }

  private setAuthority(index: number, next: ResourceAuthority): void {
    const slot = this.slot(index);
    if (slot.authority.role === next.role && slot.authority.epoch === next.epoch) return;
    this.log.info(
      { resource: slot.config.name, from: slot.authority, to: next },
      `resource ${slot.config.name} is now ${next.role} at epoch ${next.epoch}`,
    );
    slot.authority = next;
    for (const listener of this.roleListeners) listener(index, { ...next });
  }

  private enqueue(index: number, task: () => Promise<void>): void {
    const slot = this.slot(index);
    slot.pending++;
    slot.queue = slot.queue.then(task).catch((err: unknown) => {
      this.log.error({ resource: slot.config.name, err }, 'resource task failed unexpectedly');
    }).finally(() => {
      slot.pending--;
    });
  }

  private async run(index: number, action: AgentAction, target: ResourceAuthority): Promise<AgentResult> {
    const slot = this.slot(index);
    const hbSocketPath = slot.config.socket ?? this.opts.hbSocketPath;
    const ctx = { hostId: this.opts.hostId, epoch: target.epoch, role: target.role, hbSocketPath };
    const runOpts = this.opts.killGraceMs === undefined ? {} : { killGraceMs: this.opts.killGraceMs };
    const result = await runAgent(slot.config, action, ctx, runOpts);
    const fields = { resource: slot.config.name, ...result };
    if (agentSucceeded(result)) {
      const level = action === 'monitor' ? 'debug' : 'info'; // monitors run every few seconds
      this.log[level](fields, `agent ${action} of ${slot.config.name} succeeded`);
    } else {
      this.log.warn(fields, `agent ${action} of ${slot.config.name} failed: ${describeFailure(result)}`);
    }
    return result;
  }

  private scheduleMonitor(index: number, slot: ResourceSlot): void {
    if (!this.running || slot.config.monitorIntervalMs <= 0) return;
    slot.monitorTimer = setTimeout(() => {
      // Skip a tick rather than queue monitors behind a long action.
      if (slot.pending > 0 || slot.authority.role === 'offline' || slot.authority.role === 'unknown') {
        this.scheduleMonitor(index, slot);
        return;
      }
      this.enqueue(index, async () => {
        const result = await this.run(index, 'monitor', slot.authority);
        if (slot.authority.role === 'offline') return; // stopped meanwhile: nothing to report
        this.opts.onInput({
          kind: 'resource-event',
          nowMs: this.opts.now(),
          resource: index,
          event: agentSucceeded(result) ? 'monitor-ok' : 'monitor-failed',
        });
      });
      void slot.queue.then(() => this.scheduleMonitor(index, slot));
    }, slot.config.monitorIntervalMs);
  }
}

export function describeFailure(result: AgentResult): string {
  if (result.spawnError !== undefined) return `could not run the agent (${result.spawnError})`;
  if (result.timedOut) return 'timed out, process group killed';
  if (result.signal !== null) return `killed by ${result.signal}`;
  if (result.exitCode === 7) return 'not running (exit 7)';
  return `exit ${result.exitCode}`;
}
