// The simulated world: virtual time, the event queue, hosts, voting disks, the network and
// the checkers. Every event belongs to a host "gate": engine inputs wait while that host's
// ycs process is frozen (pause or event-loop stall), database events wait only while the
// whole host is frozen (pause), and both are dropped once the host crashed.
import type { Input, Output } from '../../src/core/types.js';
import type { EngineBinding, SimTimeouts } from './binding.js';
import { Checker } from './checkers.js';
import { VotingDisk } from './disk.js';
import type { Knobs } from './knobs.js';
import { SimStorage } from './fence.js';
import { Network } from './network.js';
import { Prng } from './prng.js';
import { EtcdWorld } from './etcd-shell.js';
import { EventQueue } from './queue.js';
import { SimHost } from './host.js';
import { Trace } from './trace.js';

export type Gate = 'engine' | 'db' | 'none';

export interface SimEvent {
  code: string;
  host: number; // 0 = the world itself
  gate: Gate;
  inc: number; // host incarnation the event belongs to; -1 = any
  run: () => void;
}

export interface WorldOptions {
  trace: boolean;
  brokenRule?: string;
  /** Odds that a write reported durable was not stored (a lying disk; off by default). */
  lyingDiskOdds?: number;
  /** 1: the fault model before wedges existed (old regression seeds); default 2. */
  faultModel?: 1 | 2;
  /** etcd mode: the lease-store engine against the etcd model (knobs.etcd must be set). */
  etcd?: boolean;
  /** Sees every engine output as the shell carries it out (scripted runs record them). */
  onOutput?: (host: number, output: Output) => void;
}

export class World {
  now = 0;
  readonly queue = new EventQueue<SimEvent>();
  readonly hosts: SimHost[];
  readonly disks: VotingDisk[];
  readonly net: Network;
  readonly check: Checker;
  readonly trace: Trace;
  readonly timeouts: SimTimeouts;
  readonly resources: string[];
  /** Persistent reservations on the voting disks and the data LUN. */
  readonly storage: SimStorage;
  readonly rng: { disk: Prng; net: Prng; faults: Prng; host: Prng; db: Prng; wedge: Prng; fence: Prng; etcd: Prng; session: Prng; preempt: Prng };
  /** etcd mode: the store and the hosts' store shell; null in disk mode. */
  readonly etcd: EtcdWorld | null;
  stepCount = 0;

  constructor(
    readonly knobs: Knobs,
    readonly binding: EngineBinding,
    readonly options: WorldOptions,
  ) {
    const root = new Prng(knobs.seed, 2);
    this.rng = { disk: root.fork(3), net: root.fork(4), faults: root.fork(5), host: root.fork(6), db: root.fork(7), wedge: root.fork(8), fence: root.fork(9), etcd: root.fork(10), session: root.fork(11), preempt: root.fork(12) };
    this.timeouts = binding.timeouts(knobs.timeoutsVariant);
    this.trace = new Trace(options.trace);
    this.resources = Array.from({ length: knobs.resourceCount }, (_, i) => `db${i + 1}`);
    this.hosts = Array.from({ length: knobs.hostCount }, (_, i) => new SimHost(this, i + 1));
    // etcd mode has no voting disk: the data LUN is the only fenced device.
    const disks = options.etcd ? 0 : knobs.diskCount;
    this.disks = Array.from({ length: disks }, (_, i) => new VotingDisk(i, knobs.hostCount));
    this.storage = new SimStorage(disks);
    this.net = new Network(this);
    this.check = new Checker(this);
    if (options.etcd && knobs.etcd === undefined) throw new Error('etcd mode needs knobs.etcd');
    this.etcd = options.etcd && knobs.etcd ? new EtcdWorld(this, knobs.etcd) : null;
    if (this.etcd !== null) this.check.watchStore(this.etcd.model);
  }

  host(id: number): SimHost {
    const h = this.hosts[id - 1];
    if (!h) throw new Error(`no host ${id}`);
    return h;
  }

  at(atMs: number, ev: SimEvent): void {
    this.queue.push(Math.max(atMs, this.now), ev);
  }

  after(delayMs: number, ev: SimEvent): void {
    this.at(this.now + delayMs, ev);
  }

  /** Queue an input for a host's engine; `nowMs` is stamped with its local clock on delivery. */
  deliver(hostId: number, inc: number, delayMs: number, code: string, make: (nowMs: number) => Input): void {
    this.after(delayMs, {
      code,
      host: hostId,
      gate: 'engine',
      inc,
      run: () => {
        const h = this.host(hostId);
        h.step(make(h.localNow()));
      },
    });
  }

  /** Runs events until virtual time `untilMs` (inclusive) or the queue is empty. */
  runUntil(untilMs: number): void {
    for (;;) {
      const t = this.queue.peekTime();
      if (t === undefined || t > untilMs) break;
      const item = this.queue.pop();
      if (!item) break;
      this.now = item.atMs;
      this.dispatch(item.event);
    }
    this.now = Math.max(this.now, untilMs);
  }

  private dispatch(ev: SimEvent): void {
    if (ev.host !== 0 && ev.gate !== 'none') {
      const h = this.host(ev.host);
      if (!h.alive) return;
      if (ev.inc >= 0 && ev.inc !== h.incarnation) return;
      if (h.blocks(ev.gate)) {
        h.backlog.push(ev); // delivered in order when the host thaws
        return;
      }
    }
    this.trace.note(this.now, ev.host, ev.code);
    ev.run();
  }
}
