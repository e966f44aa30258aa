// The recent cluster events the live page shows (role changes, evictions and admissions,
// fences, crash reports), taken from the engine's outputs and inputs as the daemon
// carries them; a bounded ring, newest last, stamped with the wall clock for display only.
import type { Input, Output } from '../core/types.js';

export interface ClusterEvent {
  atMs: number; // wall clock, for display
  kind: 'role' | 'membership' | 'fence' | 'crash';
  text: string;
}

const KEEP = 50;

export class EventRing {
  private readonly events: ClusterEvent[] = [];

  constructor(
    private readonly hostId: number,
    private readonly resources: string[],
    private readonly wallNow: () => number = Date.now,
  ) {}

  onOutput(o: Output): void {
    if (o.kind === 'role-change') this.add('role', `host ${this.hostId}: ${o.from} -> ${o.to} at epoch ${o.epoch} (${o.reason})`);
    if (o.kind === 'membership') {
      for (const h of o.evicted) this.add('membership', `host ${h} evicted at epoch ${o.epoch}`);
      for (const h of o.admitted) this.add('membership', `host ${h} admitted at epoch ${o.epoch}`);
    }
  }

  onInput(i: Input): void {
    if (i.kind === 'fence-done') this.add('fence', i.ok ? `host ${this.hostId} fenced host ${i.victim}` : `host ${this.hostId} failed to fence host ${i.victim}: ${i.detail ?? ''}`);
    if (i.kind === 'resource-event' && i.event === 'disconnected') this.add('crash', `host ${this.hostId}: ${this.resources[i.resource] ?? i.resource} disconnected (crash report)`);
  }

  recent(): ClusterEvent[] {
    return [...this.events];
  }

  private add(kind: ClusterEvent['kind'], text: string): void {
    this.events.push({ atMs: this.wallNow(), kind, text });
    if (this.events.length > KEEP) this.events.shift();
  }
}
