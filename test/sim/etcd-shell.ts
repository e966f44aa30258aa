// etcd mode: the hosts' store shell (src/daemon/store-shell.ts over src/etcd/store.ts)
// against the etcd model (etcd.ts). Each `store` output is one request that reaches the
// cluster after a per-message delay (mostly small, a long tail, a host's burst adds more)
// and is applied there at that instant, or lost: dropped on the way, the host cut off
// from etcd, or no leader serving. Its answer travels back with another delay and may be
// lost too. The shell answers every call exactly once: with the cluster's answer if it
// arrives before the call deadline (store.callDeadlineMs on the host's clock), else with
// ok: false at the deadline. A campaign that took effect but whose answer did not come
// back in time is revoked by the shell (store.ts revokes the lease of a transaction whose
// outcome is unknown), with a request of its own that may be late or lost as well.
import type { Output, StoreCall, StoreResult } from '../../src/core/types.js';
import { EtcdModel } from './etcd.js';
import type { SimHost } from './host.js';
import type { EtcdKnobs } from './knobs.js';
import type { World } from './world.js';

interface Window {
  hosts: Set<number> | null; // null: every host
  untilMs: number;
  lossOdds: number; // 1: cut off
  extraDelayMs: number;
}

export class EtcdWorld {
  readonly model: EtcdModel;
  private readonly windows: Window[] = [];

  constructor(
    private readonly w: World,
    readonly knobs: EtcdKnobs,
  ) {
    this.model = new EtcdModel(w.rng.etcd);
  }

  /** Host `host` (or every host) loses its etcd messages with `lossOdds` (1: cut off) for a while. */
  disturb(hosts: number[] | null, durationMs: number, lossOdds: number, extraDelayMs: number): void {
    this.windows.push({ hosts: hosts === null ? null : new Set(hosts), untilMs: this.w.now + durationMs, lossOdds, extraDelayMs });
  }

  /** Every member up, every cut and burst over (an election already running goes on). */
  heal(): void {
    for (const win of this.windows) win.untilMs = Math.min(win.untilMs, this.w.now);
    this.model.startAll(this.w.now);
  }

  /** One message between host `host` and etcd, now: its delay, or null when it is lost. */
  private transit(host: number): number | null {
    const w = this.w;
    const rng = w.rng.etcd;
    let loss = this.knobs.lossOdds;
    let extra = 0;
    for (const win of this.windows) {
      if (w.now >= win.untilMs || (win.hosts !== null && !win.hosts.has(host))) continue;
      loss = Math.max(loss, win.lossOdds);
      extra = Math.max(extra, win.extraDelayMs);
    }
    if (loss >= 1 || rng.chance(loss)) return null;
    return rng.latency(this.knobs.delayTypicalMs, this.knobs.delayTailMs, this.knobs.delayTailOdds) + rng.float() * extra;
  }

  /** Sends `call` for host `h` now; `then` runs at the instant it is applied (never if lost). */
  private send(h: SimHost, call: StoreCall, then: (r: StoreResult) => void): void {
    const w = this.w;
    const delay = this.transit(h.id);
    if (delay === null) return;
    w.after(delay, {
      code: 'etcd-arrive',
      host: 0,
      gate: 'none',
      inc: -1,
      run: () => {
        const r = this.model.apply(call, w.now);
        w.trace.note(w.now, h.id, 'etcd-apply', () => `${call.op} -> ${r === null ? 'lost: no leader serves' : describeResult(r)} rev ${this.model.revision}`);
        if (r !== null) then(r);
      },
    });
  }

  /** Carries out one `store` output of host `h` (host.ts). */
  execute(h: SimHost, out: Extract<Output, { kind: 'store' }>): void {
    const w = this.w;
    const inc = h.incarnation;
    const s = w.timeouts.store;
    if (s === undefined) throw new Error('etcd mode without store timeouts');
    let answered = false;
    let wonLease: string | null = null;
    const answer = (result: StoreResult): void => {
      answered = true;
      h.step({ kind: 'store-done', nowMs: h.localNow(), requestId: out.requestId, result });
    };
    this.send(h, out.call, (r) => {
      if (r.op === 'campaign' && r.ok && r.won) wonLease = r.lease;
      const back = this.transit(h.id);
      if (back === null) return;
      w.after(back, {
        code: 'store-done',
        host: h.id,
        gate: 'engine',
        inc,
        run: () => {
          if (!answered) answer(r); // an answer after the deadline is dropped
        },
      });
    });
    w.after(h.realDelay(s.callDeadlineMs), {
      code: 'store-deadline',
      host: h.id,
      gate: 'engine',
      inc,
      run: () => {
        if (answered) return;
        answer({ op: out.call.op, ok: false, error: `E_ETCD: ${out.call.op}: deadline exceeded` });
        if (wonLease !== null) this.send(h, { op: 'resign', lease: wonLease }, () => undefined);
      },
    });
  }
}

export function describeResult(r: StoreResult): string {
  if (!r.ok) return `failed: ${r.error}`;
  switch (r.op) {
    case 'campaign':
      return r.won ? `won epoch ${r.epoch} lease ${r.lease} previous ${r.previous}` : `lost to ${r.holder === null ? 'none' : `host ${r.holder.hostId} epoch ${r.holder.epoch}`}`;
    case 'keepalive':
      return `ttl ${r.ttlMs}`;
    case 'read':
      return r.holder === null ? 'no holder' : `holder ${r.holder.hostId} epoch ${r.holder.epoch} lease ${r.holder.lease}`;
    default:
      return 'ok';
  }
}

export function describeCall(c: StoreCall): string {
  switch (c.op) {
    case 'campaign':
      return `campaign ttl ${c.ttlMs}`;
    case 'keepalive':
    case 'resign':
      return `${c.op} lease ${c.lease}`;
    case 'publish':
      return `publish ${c.record.role} epoch ${c.record.epoch}`;
    default:
      return c.op;
  }
}
