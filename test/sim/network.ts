// Network heartbeat 1 between every pair of hosts: loss, delay with a heavy tail (which
// also reorders), duplication, and symmetric or asymmetric partitions as sets of blocked
// directed links. A message reaches whatever incarnation of the peer is running.
import type { NetHeartbeat } from '../../src/core/types.js';
import type { SimHost } from './host.js';
import type { World } from './world.js';

interface Burst {
  untilMs: number;
  lossOdds: number;
  extraDelayMs: number;
}

export class Network {
  /** Blocked directed links, counted so overlapping partitions heal independently. */
  private readonly blocked = new Map<number, number>();
  private readonly bursts: Burst[] = [];

  constructor(private readonly world: World) {}

  private key(from: number, to: number): number {
    return from * 1024 + to;
  }

  isBlocked(from: number, to: number): boolean {
    return (this.blocked.get(this.key(from, to)) ?? 0) > 0;
  }

  block(links: Array<[number, number]>, durationMs: number): void {
    for (const [a, b] of links) this.blocked.set(this.key(a, b), (this.blocked.get(this.key(a, b)) ?? 0) + 1);
    this.world.after(durationMs, {
      code: 'net-unblock',
      host: 0,
      gate: 'none',
      inc: -1,
      run: () => this.unblock(links),
    });
  }

  private unblock(links: Array<[number, number]>): void {
    for (const [a, b] of links) {
      const k = this.key(a, b);
      const n = (this.blocked.get(k) ?? 0) - 1;
      if (n > 0) this.blocked.set(k, n);
      else this.blocked.delete(k);
    }
  }

  addBurst(durationMs: number, lossOdds: number, extraDelayMs: number): void {
    this.bursts.push({ untilMs: this.world.now + durationMs, lossOdds, extraDelayMs });
  }

  heal(): void {
    this.blocked.clear();
    for (const b of this.bursts) b.untilMs = Math.min(b.untilMs, this.world.now);
  }

  send(from: SimHost, message: NetHeartbeat): void {
    const w = this.world;
    const frozen = deepFreezeMessage(message);
    if (frozen.from !== from.id) w.check.violation('forged-sender', from.id, `message claims host ${frozen.from}`);
    for (const peer of w.hosts) {
      if (peer.id === from.id || this.isBlocked(from.id, peer.id)) continue;
      const copies = w.rng.net.chance(w.knobs.net.dupOdds) ? 2 : 1;
      for (let c = 0; c < copies; c++) this.transmit(peer.id, frozen);
    }
  }

  private transmit(to: number, message: NetHeartbeat): void {
    const w = this.world;
    const k = w.knobs.net;
    let lossOdds = k.lossOdds;
    let extra = 0;
    for (const b of this.bursts) {
      if (w.now < b.untilMs) {
        lossOdds = Math.max(lossOdds, b.lossOdds);
        extra = Math.max(extra, b.extraDelayMs);
      }
    }
    if (w.rng.net.chance(lossOdds)) return;
    const delay = w.rng.net.latency(k.delayTypicalMs, k.delayTailMs, k.delayTailOdds) + w.rng.net.float() * extra;
    w.after(delay, {
      code: 'net-arrive',
      host: 0,
      gate: 'none',
      inc: -1,
      run: () => {
        // A partition that started while the packet was in flight drops it too.
        if (this.isBlocked(message.from, to)) return;
        w.deliver(to, -1, 0, 'net-heartbeat', (nowMs) => ({ kind: 'net-heartbeat', nowMs, message }));
      },
    });
  }
}

function deepFreezeMessage(m: NetHeartbeat): NetHeartbeat {
  return Object.freeze({ ...m, heard: Object.freeze([...m.heard]) as number[] });
}
