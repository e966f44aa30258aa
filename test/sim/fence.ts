// Simulated SCSI-3 persistent reservations on every fenced device: the voting disks
// (devices 0..n-1, as the daemon's FenceShell numbers them) and one shared data LUN
// (device n) that the databases write. Per device: the registered keys and the holder
// of the Write Exclusive - Registrants Only reservation. A write is refused with a
// reservation conflict iff a reservation is held and the writer is not registered;
// reads always work. A fence is a PREEMPT of the victim's key on every device: the
// fencer must be registered, the victim loses its key, and if it held the reservation
// the fencer takes it over. Without a reservation a preempt fences nobody, so the fence
// reports failure there. With fencing 'none' there is no driver at all. A register or
// reserve may also meet a session reset (an iSCSI reconnect, as tgt does it): the target
// drops the host's registration on that device and the step fails with sessionReset.
import type { FenceStep } from '../../src/core/types.js';
import type { SimHost } from './host.js';
import type { World } from './world.js';

interface Device {
  registered: Set<number>;
  reservedBy: number | null;
}

export class SimStorage {
  readonly devices: Device[];

  constructor(voting: number) {
    this.devices = Array.from({ length: voting + 1 }, () => ({ registered: new Set<number>(), reservedBy: null }));
  }

  /** The data LUN's device index. */
  get data(): number {
    return this.devices.length - 1;
  }

  refuses(host: number, device: number): boolean {
    const d = this.devices[device];
    return d !== undefined && d.reservedBy !== null && !d.registered.has(host);
  }

  /** The host can no longer write its data: what the split-brain checkers ask. */
  fencedFromData(host: number): boolean {
    return this.refuses(host, this.data);
  }
}

/**
 * When a step the host queues now ends: the daemon's fence shell runs its steps one at a
 * time in output order (one StepQueue). Fence latencies come from the disk stream (as
 * always), register/reserve from their own.
 */
function queued(w: World, h: SimHost, step?: FenceStep): number {
  const latencyMs = (step === undefined ? w.rng.disk : w.rng.fence).range(2, 40);
  h.fenceQueueFreeAt = Math.max(w.now, h.fenceQueueFreeAt) + latencyMs;
  return h.fenceQueueFreeAt;
}

/** PREEMPT of the victim's key on every device, after a driver latency. */
export function applyFence(w: World, fencer: SimHost, victim: number, epoch: number): void {
  const inc = fencer.incarnation;
  w.at(queued(w, fencer), {
    code: 'fence-end',
    host: 0,
    gate: 'none',
    inc: -1,
    run: () => {
      // The shell asks the engine just before the PREEMPT (src/daemon/fence-shell.ts).
      if (fencer.incarnation === inc && fencer.engine?.fenceWanted?.(victim, epoch) === false) {
        w.deliver(fencer.id, inc, 0, 'fence-done', (nowMs) => ({ kind: 'fence-done', nowMs, victim, ok: false, detail: 'dropped: no longer wanted by the engine' }));
        return;
      }
      const keyHeld = w.storage.devices.some((d) => d.registered.has(victim));
      const { ok, detail } = preempt(w, fencer.id, victim);
      if (keyHeld && !w.storage.devices.some((d) => d.registered.has(victim))) w.check.onPreempt(fencer, victim, epoch); // it took the key away
      if (ok) w.check.onHostStateChanged(w.host(victim), 'fenced');
      w.deliver(fencer.id, inc, 0, 'fence-done', (nowMs) => ({ kind: 'fence-done', nowMs, victim, ok, detail }));
    },
  });
}

function preempt(w: World, fencer: number, victim: number): { ok: boolean; detail: string } {
  if (w.knobs.fencing !== 'pr') return { ok: false, detail: 'fencing driver none' };
  if (victim === fencer) return { ok: false, detail: 'refusing to fence the local host' };
  const devices = w.storage.devices;
  if (devices.some((d) => !d.registered.has(fencer))) return { ok: false, detail: 'fencer is not registered (reservation conflict)' };
  for (const d of devices) {
    d.registered.delete(victim);
    if (d.reservedBy === victim) d.reservedBy = fencer;
  }
  if (devices.some((d) => d.reservedBy === null)) return { ok: false, detail: 'preempted, but a device has no reservation' };
  return { ok: true, detail: 'preempted' };
}

/**
 * One register or reserve on one device, answered by one fence-step-done. A register is
 * only legal while a decision the checker knows admits the host (checked when issued).
 */
export function applyFenceStep(w: World, host: SimHost, step: FenceStep, device: number, epoch: number): void {
  if (step === 'register') w.check.onRegister(host, epoch);
  const inc = host.incarnation;
  w.at(queued(w, host, step), {
    code: `${step}-end`,
    host: 0,
    gate: 'none',
    inc: -1,
    run: () => {
      if (!host.alive || host.incarnation !== inc) return;
      const faultPhase = w.now >= w.knobs.warmupMs && w.now < w.knobs.healAtMs; // a fault: none after the heal
      if (w.knobs.fencing === 'pr' && faultPhase && w.rng.session.chance(w.knobs.sessionResetOdds)) { // own stream: other draws unchanged
        w.storage.devices[device]?.registered.delete(host.id); // the new session has no registration
        w.check.onHostStateChanged(host, 'session-reset');
        w.deliver(host.id, inc, 0, 'fence-step-done', (nowMs) => ({ kind: 'fence-step-done', nowMs, step, device, ok: false, detail: 'ECONNRESET: session re-established', sessionReset: true }));
        return;
      }
      const { ok, detail } = carryOut(w, host.id, step, device);
      if (ok && step === 'register') w.check.onHostStateChanged(host, 'registered');
      w.deliver(host.id, inc, 0, 'fence-step-done', (nowMs) => ({ kind: 'fence-step-done', nowMs, step, device, ok, ...(detail ? { detail } : {}) }));
    },
  });
}

function carryOut(w: World, host: number, step: FenceStep, device: number): { ok: boolean; detail?: string } {
  const d = w.storage.devices[device];
  if (w.knobs.fencing !== 'pr' || d === undefined) return { ok: false, detail: `no fenced device ${device}` };
  if (step === 'register') {
    d.registered.add(host);
    return { ok: true };
  }
  if (!d.registered.has(host)) return { ok: false, detail: 'not registered (reservation conflict)' };
  if (d.reservedBy === null) d.reservedBy = host;
  if (d.reservedBy !== host) return { ok: false, detail: `reserved by host ${d.reservedBy}: fence it first` };
  return { ok: true };
}
