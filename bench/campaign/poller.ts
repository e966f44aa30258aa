// The campaign's one observer: every 100 ms it asks every host the campaign has not
// frozen for its status, counts the acknowledged writes in each host's ack log (read
// incrementally), and records a dual primary whenever two answering hosts each say
// their own resource is primary in the same round. Waits of the runner read its latest
// round instead of polling on their own.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { agreedMaster } from '../../src/demo/cluster.js';
import { isStatus, type FailoverFixture, type Statuses } from '../../test/helpers/cluster-fixture.js';

export const POLL_MS = 100;

export interface Round {
  atMs: number;
  statuses: Statuses;
  /** Acknowledged writes per host so far. */
  acks: Map<number, number>;
  /** The agreed master among the answering hosts. */
  master: number | undefined;
}

export interface DualPrimary {
  atMs: number;
  hosts: number[];
  epochs: number[];
  fault: string;
}

class AckTail {
  private offset = 0;
  private rest = '';
  count = 0;

  constructor(private readonly path: string) {}

  read(): number {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return this.count;
    }
    if (size <= this.offset) return this.count;
    const buf = Buffer.alloc(size - this.offset);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const lines = (this.rest + buf.toString('utf8')).split('\n');
    this.rest = lines.pop() ?? '';
    this.count += lines.filter((l) => l.startsWith('epoch=')).length;
    return this.count;
  }
}

export class Poller {
  readonly frozen = new Set<number>();
  readonly dualPrimaries: DualPrimary[] = [];
  /** What the runner is doing now, named in a dual-primary record. */
  fault = 'none';
  rounds = 0;
  latest: Round | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly tails: Map<number, AckTail>;
  private readonly listeners = new Set<(r: Round) => void>();

  constructor(private readonly fx: FailoverFixture, private readonly hosts: number[], ackLog: (id: number) => string) {
    this.tails = new Map(hosts.map((id) => [id, new AckTail(ackLog(id))]));
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const t0 = performance.now();
      const asked = this.hosts.filter((id) => !this.frozen.has(id));
      const statuses = await this.fx.statusesOf(asked, 400);
      for (const id of this.frozen) statuses.delete(id); // frozen meanwhile: its answer predates the freeze
      const acks = new Map([...this.tails].map(([id, t]) => [id, t.read()]));
      const round: Round = { atMs: Date.now(), statuses, acks, master: agreedMaster(statuses) };
      this.noteDual(round);
      this.latest = round;
      this.rounds++;
      for (const l of this.listeners) l(round);
      await sleep(Math.max(0, POLL_MS - (performance.now() - t0)));
    }
  }

  private noteDual(round: Round): void {
    const primaries: Array<[number, number]> = [];
    for (const [id, s] of round.statuses) {
      if (!isStatus(s)) continue;
      const self = s.hosts.find((h) => h.hostId === s.selfId);
      if (self?.resources[0] === 'primary') primaries.push([id, s.epoch]);
    }
    if (primaries.length > 1) {
      this.dualPrimaries.push({ atMs: round.atMs, hosts: primaries.map((p) => p[0]), epochs: primaries.map((p) => p[1]), fault: this.fault });
    }
  }

  /** Resolves with the first round (from the next one on) for which `predicate` gives a value. */
  waitFor<T>(predicate: (r: Round) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const listener = (r: Round): void => {
        const value = predicate(r);
        if (value === undefined) return;
        this.listeners.delete(listener);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      timer.unref(); // a wait nobody needs any more must not keep the process alive
      this.listeners.add(listener);
    });
  }
}
