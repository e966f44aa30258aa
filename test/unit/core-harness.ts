// A tiny in-test harness for the engine unit tests: a few engines, in-memory voting disks,
// a network, resources and fencing, all on one virtual clock. The full randomized
// simulator lives in test/sim; this one is deliberately small and scripted.

import { ownEpochFloor } from '../../src/core/arbitration.js';
import { createEngine, type ClusterEngine } from '../../src/core/engine.js';
import type { BrokenRules } from '../../src/core/config.js';
import { deriveTimeouts, type Timeouts } from '../../src/core/timeouts.js';
import type {
  HeartbeatPayload,
  HostId,
  Input,
  Output,
  SlotRead,
  SlotRecord,
  VotePayload,
} from '../../src/core/types.js';

interface Event {
  at: number;
  seq: number;
  host: HostId;
  input: Input | null; // null = tick
}

interface Disk {
  heartbeats: Map<HostId, SlotRecord<HeartbeatPayload>>;
  votes: Map<HostId, SlotRecord<VotePayload>>;
}

export interface HarnessOptions {
  hosts: HostId[];
  diskCount?: 1 | 3 | 5;
  resources?: string[];
  fencing?: 'pr' | 'none';
  timeouts?: Timeouts;
  rules?: Partial<Record<HostId, BrokenRules>>;
  diskLatencyMs?: number;
  netLatencyMs?: number;
}

export interface HostLog {
  at: number;
  host: HostId;
  output: Output;
}

export class Harness {
  now = 0;
  private seq = 0;
  private queue: Event[] = [];
  readonly engines = new Map<HostId, ClusterEngine>();
  readonly disks: Disk[];
  readonly outputs: HostLog[] = [];
  readonly crashed = new Set<HostId>();
  /** hosts whose disk I/O hangs (never answered until healed) */
  readonly diskDown = new Set<HostId>();
  /** fenced hosts: writes fail with reservation-conflict */
  readonly fenced = new Set<HostId>();
  /** blocked directed links "a>b" */
  readonly blocked = new Set<string>();
  readonly pausedUntil = new Map<HostId, number>();
  private readonly incarnations = new Map<HostId, number>();
  private readonly heldIo = new Map<HostId, Array<() => void>>();
  readonly timeouts: Timeouts;

  constructor(readonly opts: HarnessOptions) {
    this.timeouts = opts.timeouts ?? deriveTimeouts();
    const count = opts.diskCount ?? 1;
    this.disks = Array.from({ length: count }, () => ({ heartbeats: new Map(), votes: new Map() }));
    for (const h of opts.hosts) this.startHost(h);
  }

  startHost(h: HostId): void {
    const incarnation = (this.incarnations.get(h) ?? 0) + 1;
    this.incarnations.set(h, incarnation);
    this.crashed.delete(h);
    this.queue = this.queue.filter((e) => e.host !== h);
    const engine = createEngine({
      hostId: h,
      hostIds: this.opts.hosts,
      diskCount: this.opts.diskCount ?? 1,
      resources: this.opts.resources ?? ['db'],
      timeouts: this.timeouts,
      incarnation,
      epochFloor: this.ownEpochFloor(h),
      fencing: this.opts.fencing ?? 'none',
      ...(this.opts.rules?.[h] === undefined ? {} : { rules: this.opts.rules[h] }),
    }) as ClusterEngine;
    this.engines.set(h, engine);
    this.deliver(h, { kind: 'start', nowMs: this.now });
    this.push(this.now + 50, h, null);
  }

  /** As the daemon at start: the highest epoch host h's own sectors show on the disks. */
  private ownEpochFloor(h: HostId): number {
    const ok = <P>(record: SlotRecord<P> | undefined): SlotRead<P> => (record === undefined ? { hostId: h, verdict: 'empty' } : { hostId: h, verdict: 'ok', record });
    return ownEpochFloor(this.disks.map((d) => ({ heartbeat: ok(d.heartbeats.get(h)), vote: ok(d.votes.get(h)) })));
  }

  crash(h: HostId): void {
    this.crashed.add(h);
    this.queue = this.queue.filter((e) => e.host !== h);
  }

  engine(h: HostId): ClusterEngine {
    const e = this.engines.get(h);
    if (e === undefined) throw new Error(`no host ${h}`);
    return e;
  }

  healDisk(h: HostId): void {
    this.diskDown.delete(h);
    for (const resume of this.heldIo.get(h) ?? []) resume();
    this.heldIo.delete(h);
  }

  cut(a: HostId, b: HostId): void {
    this.blocked.add(`${a}>${b}`);
    this.blocked.add(`${b}>${a}`);
  }

  healNet(): void {
    this.blocked.clear();
  }

  /** Injects an input into a host at the current time. */
  inject(h: HostId, make: (now: number) => Input): void {
    this.deliver(h, make(this.now));
  }

  run(untilMs: number): void {
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.queue[0];
      if (next === undefined || next.at > untilMs) break;
      this.queue.shift();
      this.now = next.at;
      if (this.crashed.has(next.host)) continue;
      const pausedUntil = this.pausedUntil.get(next.host) ?? 0;
      if (this.now < pausedUntil) {
        this.push(pausedUntil, next.host, next.input);
        continue;
      }
      if (next.input === null) {
        this.deliver(next.host, { kind: 'tick', nowMs: this.now });
        this.push(this.now + 50, next.host, null);
      } else {
        this.deliver(next.host, { ...next.input, nowMs: this.now } as Input);
      }
    }
    this.now = untilMs;
  }

  logs(h: HostId, msg?: string): HostLog[] {
    return this.outputs.filter(
      (o) => o.host === h && o.output.kind === 'log' && (msg === undefined || o.output.msg === msg),
    );
  }

  masters(): HostId[] {
    return [...this.engines].filter(([h, e]) => !this.crashed.has(h) && e.role === 'master').map(([h]) => h);
  }

  private push(at: number, host: HostId, input: Input | null): void {
    this.queue.push({ at, seq: this.seq++, host, input });
  }

  private deliver(h: HostId, input: Input): void {
    const outputs = this.engine(h).step(input);
    for (const output of outputs) {
      this.outputs.push({ at: this.now, host: h, output });
      this.carryOut(h, output);
    }
  }

  private io(h: HostId, run: () => void): void {
    if (this.diskDown.has(h)) {
      const held = this.heldIo.get(h) ?? [];
      held.push(run);
      this.heldIo.set(h, held);
      return;
    }
    run();
  }

  private carryOut(h: HostId, o: Output): void {
    const lat = this.opts.diskLatencyMs ?? 5;
    switch (o.kind) {
      case 'read-disk':
        this.io(h, () => this.push(this.now + lat, h, this.readInput(o.requestId, o.disk)));
        return;
      case 'write-heartbeat':
      case 'write-vote': {
        const area = o.kind === 'write-heartbeat' ? 'heartbeat' : 'vote';
        this.io(h, () => {
          if (this.fenced.has(h)) {
            this.push(this.now + lat, h, { kind: 'disk-failed', nowMs: 0, requestId: o.requestId, disk: o.disk, error: 'reservation-conflict' });
            return;
          }
          const disk = this.disks[o.disk];
          if (disk === undefined) throw new Error('bad disk');
          if (o.kind === 'write-heartbeat') disk.heartbeats.set(h, o.record);
          else disk.votes.set(h, o.record);
          this.push(this.now + lat, h, { kind: 'disk-write-done', nowMs: 0, requestId: o.requestId, disk: o.disk, area });
        });
        return;
      }
      case 'send-heartbeat':
        for (const peer of this.opts.hosts) {
          if (peer === h || this.blocked.has(`${h}>${peer}`)) continue;
          this.push(this.now + (this.opts.netLatencyMs ?? 1), peer, { kind: 'net-heartbeat', nowMs: 0, message: o.message });
        }
        return;
      case 'fence':
        this.fenced.add(o.victim);
        this.push(this.now + 20, h, { kind: 'fence-done', nowMs: 0, victim: o.victim, ok: true });
        return;
      case 'register':
        this.fenced.delete(h);
        this.push(this.now + 20, h, { kind: 'fence-step-done', nowMs: 0, step: 'register', device: o.device, ok: true });
        return;
      case 'reserve':
        this.push(this.now + 20, h, { kind: 'fence-step-done', nowMs: 0, step: 'reserve', device: o.device, ok: true });
        return;
      case 'resource':
        this.push(this.now + 10, h, { kind: 'resource-action-done', nowMs: 0, resource: o.resource, action: o.action, ok: true });
        return;
      default:
        return;
    }
  }

  private readInput(requestId: number, diskIndex: number): Input {
    const disk = this.disks[diskIndex];
    if (disk === undefined) throw new Error('bad disk');
    const heartbeats: SlotRead<HeartbeatPayload>[] = this.opts.hosts.map((hostId) => {
      const record = disk.heartbeats.get(hostId);
      return record === undefined ? { hostId, verdict: 'empty' } : { hostId, verdict: 'ok', record };
    });
    const votes: SlotRead<VotePayload>[] = this.opts.hosts.map((hostId) => {
      const record = disk.votes.get(hostId);
      return record === undefined ? { hostId, verdict: 'empty' } : { hostId, verdict: 'ok', record: structuredClone(record) };
    });
    return { kind: 'disk-read-done', nowMs: 0, requestId, disk: diskIndex, heartbeats: structuredClone(heartbeats), votes };
  }
}

/** Messages of every 'log' output of host h, in order. */
export function logMessages(hx: Harness, h: HostId): string[] {
  return hx.logs(h).map((l) => (l.output.kind === 'log' ? l.output.msg : ''));
}
