// Simulated SCSI-3 persistent reservations on every fenced device: the voting disks
// (devices 0..n-1, as the daemon's FenceShell numbers them) and one shared data LUN
// (device n) that the databases write. Per device: the registered keys, each carrying the
// epoch it was registered for (src/fence/keys.ts), and the holder of the Write Exclusive -
// Registrants Only reservation. A write is refused with a reservation conflict iff a
// reservation is held and the writer is not registered; reads always work. A fence, as
// the driver does it, reads the victim's keys, asks the engine which it may remove
// (mayPreempt: a key of the fence's epoch or newer voids the fence), and a moment later
// PREEMPTs exactly the values read: a value the victim replaced meanwhile (a rekey) is not
// there any more and stays untouched, as a real target refuses it. The fencer must be
// registered; if the victim held the reservation the fencer takes it over. Without a
// reservation a preempt fences nobody, so the fence reports failure there. A rekey is a
// REGISTER from the old key: refused when that key is gone. With fencing 'none' there is
// no driver at all. A register, rekey or reserve may also meet a session reset (an iSCSI
// reconnect, as tgt does it): the target drops the host's registration on that device and
// the step fails with sessionReset.
import type { FenceStep } from '../../src/core/types.js';
import type { SimHost } from './host.js';
import type { World } from './world.js';

interface Device {
  /** Host id -> the epoch its key carries. */
  registered: Map<number, number>;
  reservedBy: number | null;
}

export class SimStorage {
  readonly devices: Device[];

  constructor(voting: number) {
    this.devices = Array.from({ length: voting + 1 }, () => ({ registered: new Map<number, number>(), reservedBy: null }));
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

/**
 * A fence as the driver runs it, after the queue's latency: the engine is asked whether it
 * still wants the fence, the victim's keys are read and checked with mayPreempt, and the
 * PREEMPTs of the values read land a few milliseconds later.
 */
export function applyFence(w: World, fencer: SimHost, victim: number, epoch: number): void {
  const inc = fencer.incarnation;
  const done = (ok: boolean, detail: string): void => {
    w.deliver(fencer.id, inc, 0, 'fence-done', (nowMs) => ({ kind: 'fence-done', nowMs, victim, ok, detail }));
  };
  w.at(queued(w, fencer), {
    code: 'fence-read',
    host: 0,
    gate: 'none',
    inc: -1,
    run: () => {
      // The shell asks the engine just before the fence (src/daemon/fence-shell.ts).
      if (fencer.incarnation === inc && fencer.engine?.fenceWanted?.(victim, epoch) === false) {
        done(false, 'dropped: no longer wanted by the engine');
        return;
      }
      const read = w.storage.devices.map((d) => d.registered.get(victim));
      const refused = read.find((keyEpoch) => keyEpoch !== undefined && fencer.engine?.mayPreempt?.(keyEpoch, epoch) === false);
      if (refused !== undefined) {
        done(false, `E_REFUSED: host ${victim} holds a key of epoch ${refused}: a newer decision admitted it`);
        return;
      }
      const preemptAtMs = Math.max(w.now, fencer.fenceQueueFreeAt) + w.rng.preempt.range(1, 8); // own stream: other draws unchanged
      fencer.fenceQueueFreeAt = preemptAtMs;
      w.at(preemptAtMs, { code: 'fence-end', host: 0, gate: 'none', inc: -1, run: () => {
        const removed = preempt(w, fencer.id, victim, read);
        for (const keyEpoch of removed.keyEpochs) w.check.onPreempt(fencer, victim, epoch, keyEpoch);
        if (removed.ok) w.check.onHostStateChanged(w.host(victim), 'fenced');
        done(removed.ok, removed.detail);
      } });
    },
  });
}

/** PREEMPT on every device of the victim's key value read there (`read[device]`). */
function preempt(w: World, fencer: number, victim: number, read: Array<number | undefined>): { ok: boolean; detail: string; keyEpochs: number[] } {
  const keyEpochs: number[] = [];
  if (w.knobs.fencing !== 'pr') return { ok: false, detail: 'fencing driver none', keyEpochs };
  if (victim === fencer) return { ok: false, detail: 'refusing to fence the local host', keyEpochs };
  const devices = w.storage.devices;
  if (devices.some((d) => !d.registered.has(fencer))) return { ok: false, detail: 'fencer is not registered (reservation conflict)', keyEpochs };
  devices.forEach((d, i) => {
    const value = read[i];
    if (value === undefined || d.registered.get(victim) !== value) return; // gone or replaced since the read
    d.registered.delete(victim);
    keyEpochs.push(value);
    if (d.reservedBy === victim) d.reservedBy = fencer;
  });
  if (devices.some((d) => d.reservedBy === null)) return { ok: false, detail: 'preempted, but a device has no reservation', keyEpochs };
  if (devices.some((d) => d.registered.has(victim))) return { ok: false, detail: 'the victim registered a newer key meanwhile', keyEpochs };
  return { ok: true, detail: 'preempted', keyEpochs };
}

/**
 * One register, rekey or reserve on one device, answered by one fence-step-done. A register
 * or rekey is only legal while a decision the checker knows admits the host (checked when issued).
 */
export function applyFenceStep(w: World, host: SimHost, step: FenceStep, device: number, epoch: number, fromEpoch = 0): void {
  if (step === 'register' || step === 'rekey') w.check.onRegister(host, epoch);
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
      const { ok, detail, keyGone } = carryOut(w, host.id, step, device, epoch, fromEpoch);
      if (ok && step === 'register') w.check.onHostStateChanged(host, 'registered');
      w.deliver(host.id, inc, 0, 'fence-step-done', (nowMs) => ({ kind: 'fence-step-done', nowMs, step, device, ok, ...(detail ? { detail } : {}), ...(keyGone ? { keyGone } : {}) }));
    },
  });
}

function carryOut(w: World, host: number, step: FenceStep, device: number, epoch: number, fromEpoch: number): { ok: boolean; detail?: string; keyGone?: boolean } {
  const d = w.storage.devices[device];
  if (w.knobs.fencing !== 'pr' || d === undefined) return { ok: false, detail: `no fenced device ${device}` };
  if (step === 'register') {
    d.registered.set(host, epoch);
    return { ok: true };
  }
  if (step === 'rekey') {
    if (d.registered.get(host) !== fromEpoch) return { ok: false, detail: `key of epoch ${fromEpoch} not registered (reservation conflict)`, keyGone: true };
    d.registered.set(host, epoch);
    return { ok: true };
  }
  if (!d.registered.has(host)) return { ok: false, detail: 'not registered (reservation conflict)' };
  if (d.reservedBy === null) d.reservedBy = host;
  if (d.reservedBy !== host) return { ok: false, detail: `reserved by host ${d.reservedBy}: fence it first` };
  return { ok: true };
}
