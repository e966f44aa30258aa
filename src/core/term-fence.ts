// Lease-store mode with PR fencing: what a host that won a term does at the storage before
// it promotes (docs/etcd-mode.md, "Fencing"). The store already shows the old master's
// lease gone, so its role ended by the timing rule; the fence shuts out anything it still
// has in flight (a frozen host's queued writes). In order, through the fence shell's one
// queue: register our key on every device (it may have been preempted in an older term),
// reserve every device, then preempt the previous holder. The term may promote once every
// registration and the fence succeeded; a failed one is tried again after the retry
// period while the term lasts. A failed reservation does not block (the preempt moves
// another registrant's reservation to us), unless it met a session reset: the target may
// have dropped our registration with the session, so the sequence runs again (the term,
// our live lease at the store, is what admits us).

import type { FenceStep, HostId, Output } from './types.js';

export class TermFence {
  private readonly waiting = new Set<string>();
  private failedAtMs: number | null = null;

  constructor(
    private readonly devices: number,
    /** The previous holder (0: none known, or this host itself): nobody to preempt. */
    readonly victim: HostId | 0,
    private readonly epoch: number,
    private readonly retryMs: number,
  ) {}

  start(out: Output[]): void {
    this.failedAtMs = null;
    this.waiting.clear();
    for (let device = 0; device < this.devices; device++) {
      out.push({ kind: 'register', device, epoch: this.epoch });
      this.waiting.add(`register:${device}`);
    }
    for (let device = 0; device < this.devices; device++) {
      out.push({ kind: 'reserve', device, epoch: this.epoch });
      this.waiting.add(`reserve:${device}`);
    }
    if (this.victim !== 0) {
      out.push({ kind: 'fence', victim: this.victim, epoch: this.epoch });
      this.waiting.add('fence');
    }
  }

  /** `sessionReset`: the step met a re-established session, which may have dropped our registration. */
  onStepDone(nowMs: number, step: FenceStep, device: number, ok: boolean, sessionReset = false): void {
    if (!this.waiting.delete(`${step}:${device}`)) return;
    if (!ok && (step === 'register' || sessionReset)) this.failedAtMs = nowMs;
  }

  onFenceDone(nowMs: number, victim: HostId, ok: boolean): void {
    if (victim !== this.victim || !this.waiting.delete('fence')) return;
    if (!ok) this.failedAtMs = nowMs;
  }

  /** Starts the sequence again once a failed step's retry period passed. */
  retryIfDue(nowMs: number, out: Output[]): void {
    if (this.failedAtMs !== null && this.waiting.size === 0 && nowMs >= this.failedAtMs + this.retryMs) this.start(out);
  }

  get complete(): boolean {
    return this.waiting.size === 0 && this.failedAtMs === null;
  }
}
