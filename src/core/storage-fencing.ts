// This host's standing at the storage (SCSI-3 persistent reservations, docs/fencing.md):
// the one copy of "am I fenced" and of which fenced devices hold its key. The engine
// decides; the fence shell only carries out `register` and `reserve` and answers each
// with one `fence-step-done`. Devices are numbered as the shell opens them: the voting
// disks first, then the data disks.
//
// Rules:
//  - a host registers only while a decision admits it, and after its own I/O met a
//    RESERVATION CONFLICT (it was fenced) only once it looked at the disks again or
//    learned a newer decision (so a stale decision never undoes a fence);
//  - a key carries the epoch it was registered for (src/core/key-epochs.ts): a host
//    registers with the epoch of the decision that admits it and re-keys at each newer
//    decision that keeps it (REGISTER with the old key, which fails once that key was
//    preempted: a re-key never undoes a fence, it reports the fence); the host promotes
//    only once every device holds the key of its decision's epoch;
//  - a failed registration is retried while the host stays admitted;
//  - a step that failed because the device's session was re-established (the target may
//    have dropped the registration with it, and the host may have been fenced while it
//    was disconnected) leaves the device unregistered, and the host registers again only
//    once a majority read issued after the reset showed a decision that admits it: what
//    it knows comes from the decided state, never from its memory of being admitted;
//  - a master reserves every device once per term, after the term's fences; a failed
//    reservation is logged and not retried (another host's reservation still fences
//    everyone unregistered, and the next fence moves it to this host);
//  - a decided master fences the hosts outside its decision one at a time, each only once
//    a majority read issued after the previous step (the adoption, the previous fence's
//    answer) showed nothing newer (the storage lets any
//    registrant preempt: a master that learned its decision late must not fence members
//    of a newer one), and the shell asks `fenceWanted` again just before each PREEMPT
//    (a fence queued behind others must not run once the decision moved on).

import { assert } from './assert.js';
import type { FenceStep, HostId, Output } from './types.js';

type Registration = 'unregistered' | 'registering' | 'rekeying' | 'registered';
type Reservation = 'none' | 'reserving' | 'reserved' | 'failed';

interface Device {
  registration: Registration;
  reservation: Reservation;
  /** A conflict for a request up to this id was issued before the key was (re)registered. */
  registeredAfterRequestId: number;
  retryAtMs: number;
  /** The epoch of the key registered (or being registered) here. */
  keyEpoch: number;
  /** While rekeying: the epoch of the key being replaced. */
  previousKeyEpoch: number;
}

export interface StepResult {
  step: FenceStep;
  device: number;
  ok: boolean;
  detail?: string;
  /** The step failed because the device's session was re-established (ECONNRESET). */
  sessionReset?: boolean;
  /** A rekey found its old key gone (RESERVATION CONFLICT): this host was fenced. */
  keyGone?: boolean;
}

export class StorageFencing {
  private readonly devices: Device[];
  private fenced = false;
  /** Own clock of the latest session reset: registering needs a majority read issued since. */
  private sessionResetAtMs = -Infinity;
  /** The decided epoch this host knew, and its clock, when its I/O met the conflict. */
  private fencedAtEpoch = 0;
  private fencedAtMs = 0;
  private reservedForEpoch = 0;
  /** Fences of the current decision, waiting for a majority read issued after `afterMs`. */
  private pendingFences: { epoch: number; victims: HostId[]; afterMs: number; readAsked: boolean; inFlight: HostId | null } | null = null;

  constructor(
    readonly mode: 'pr' | 'none',
    deviceCount: number,
    private readonly retryMs: number,
  ) {
    assert(mode === 'none' || deviceCount > 0, 'PR fencing without fenced devices');
    this.devices = Array.from({ length: mode === 'pr' ? deviceCount : 0 }, () => ({
      registration: 'unregistered' as Registration,
      reservation: 'none' as Reservation,
      registeredAfterRequestId: 0,
      retryAtMs: 0,
      keyEpoch: 0,
      previousKeyEpoch: 0,
    }));
  }

  /** This host's own I/O met a RESERVATION CONFLICT since it last (re)registered. */
  get fencedByStorage(): boolean {
    return this.fenced;
  }

  /**
   * A RESERVATION CONFLICT on `device` for request `requestId`: returns whether it means
   * this host was just fenced (not a request that raced its own registration, nor one
   * more conflict of a host already known to be fenced).
   */
  onConflict(nowMs: number, device: number, requestId: number, knownEpoch: number): boolean {
    const d = this.devices[device];
    if (this.fenced) return false;
    if (d !== undefined && (d.registration === 'registering' || requestId <= d.registeredAfterRequestId)) return false;
    this.markFenced(nowMs, knownEpoch);
    return true;
  }

  /** A fence preempts this host's key on every device at once. */
  private markFenced(nowMs: number, knownEpoch: number): void {
    for (const dev of this.devices) {
      dev.registration = 'unregistered';
      dev.retryAtMs = 0;
    }
    this.fenced = true;
    this.fencedAtEpoch = knownEpoch;
    this.fencedAtMs = nowMs;
  }

  /**
   * Whether registering now cannot undo a fence this host has not understood yet: it was
   * not fenced, or it learned a newer decision since, or a majority read started after.
   */
  mayRegister(decidedEpoch: number, readSince: (ms: number) => boolean): boolean {
    if (this.sessionResetAtMs > -Infinity && !readSince(this.sessionResetAtMs)) return false;
    return !this.fenced || decidedEpoch > this.fencedAtEpoch || readSince(this.fencedAtMs);
  }

  /**
   * Registers the key of `epoch` on every device that lacks a key, and re-keys every
   * device whose key is of an older epoch (the caller checked that `epoch` admits us).
   */
  register(nowMs: number, epoch: number, out: Output[]): void {
    this.devices.forEach((d, device) => {
      if (nowMs < d.retryAtMs) return;
      if (d.registration === 'unregistered') {
        d.registration = 'registering';
        d.keyEpoch = epoch;
        out.push({ kind: 'register', device, epoch });
      } else if (d.registration === 'registered' && d.keyEpoch < epoch) {
        d.registration = 'rekeying';
        d.previousKeyEpoch = d.keyEpoch;
        d.keyEpoch = epoch;
        out.push({ kind: 'rekey', device, fromEpoch: d.previousKeyEpoch, epoch });
      }
    });
    if (this.devices.every((d) => d.registration !== 'unregistered')) this.fenced = false;
  }

  /**
   * A decision names this host master of `epoch`: hold the reservation (Write Exclusive -
   * Registrants Only) on every device before fencing anyone, so each preempt leaves the
   * victim unregistered under a reservation. Held by another registrant, it stays there
   * (it still shuts every unregistered host out; fencing the holder moves it to us).
   */
  reserve(epoch: number, out: Output[]): void {
    assert(epoch > this.reservedForEpoch, () => `reserve for epoch ${epoch} after epoch ${this.reservedForEpoch}`);
    this.reservedForEpoch = epoch;
    this.devices.forEach((d, device) => {
      d.reservation = 'reserving';
      out.push({ kind: 'reserve', device, epoch });
    });
  }

  /**
   * Decision `d`, adopted at `nowMs`, names this host master: PREEMPT every host outside
   * it (before promoting), one at a time, each once a read issued after the previous step
   * (the adoption, then the previous fence's answer) confirmed `d` is still the newest.
   */
  fenceOutside(d: { epoch: number; members: HostId[] }, hostIds: HostId[], nowMs: number): void {
    if (this.mode !== 'pr') return;
    const victims = hostIds.filter((h) => !d.members.includes(h));
    // A fence of the previous decision still in flight: the next waits for its answer.
    const inFlight = this.pendingFences?.inFlight ?? null;
    this.pendingFences = victims.length === 0 && inFlight === null ? null : { epoch: d.epoch, victims, afterMs: nowMs, readAsked: false, inFlight };
  }

  /** No fence pending or in flight. */
  get settled(): boolean {
    return this.pendingFences === null;
  }

  /** True once per fence to come: the caller issues its read at once instead of at the next interval. */
  takeReadRequest(): boolean {
    const p = this.pendingFences;
    if (p === null || p.readAsked || p.inFlight !== null) return false;
    p.readAsked = true;
    return true;
  }

  /**
   * Emits the next pending fence once a majority read issued after the previous step
   * succeeded and `current` is still that decision with this host as master (a newer one
   * learned meanwhile voids the rest).
   */
  issueFences(current: { epoch: number; masterId: HostId } | null, self: HostId, readSince: (ms: number) => boolean, out: Output[], brokenAllAtOnce = false): void {
    const p = this.pendingFences;
    if (p === null) return;
    if (brokenAllAtOnce) {
      // broken on purpose (tests only, rule fenceWithoutRead): every fence at once, no read
      for (const victim of p.victims) out.push({ kind: 'fence', victim, epoch: p.epoch });
      this.pendingFences = null;
      return;
    }
    if (current === null || current.epoch !== p.epoch || current.masterId !== self) {
      this.pendingFences = null;
      return;
    }
    if (p.inFlight !== null || !readSince(p.afterMs)) return;
    const victim = p.victims.shift();
    if (victim === undefined) {
      this.pendingFences = null;
      return;
    }
    p.inFlight = victim;
    out.push({ kind: 'fence', victim, epoch: p.epoch });
  }

  /** A fence's answer: the next one waits for a read issued from now on. */
  onFenceDone(nowMs: number, victim: HostId): void {
    const p = this.pendingFences;
    if (p === null || p.inFlight !== victim) return;
    p.inFlight = null;
    p.afterMs = nowMs;
    p.readAsked = false;
    if (p.victims.length === 0) this.pendingFences = null;
  }

  /**
   * The answer to one register/rekey/reserve; `lastRequestId` is the newest disk request
   * issued. Returns whether it means this host was just fenced (a rekey found its key gone).
   */
  onStepDone(nowMs: number, r: StepResult, lastRequestId: number, knownEpoch: number): boolean {
    const d = this.devices[r.device];
    assert(d !== undefined, () => `fence-step-done for device ${r.device} of ${this.devices.length}`);
    if (!r.ok && r.sessionReset === true) {
      if (r.step === 'rekey' && d.registration !== 'rekeying') return false; // fenced meanwhile: that conflict stands
      d.registration = 'unregistered';
      d.retryAtMs = 0;
      this.sessionResetAtMs = nowMs;
      if (r.step === 'reserve' && d.reservation === 'reserving') d.reservation = 'failed';
      return false;
    }
    if (r.step === 'rekey') return this.onRekeyDone(nowMs, d, r, knownEpoch);
    if (r.step === 'reserve') {
      if (d.reservation === 'reserving') d.reservation = r.ok ? 'reserved' : 'failed';
      return false;
    }
    if (d.registration !== 'registering') return false; // fenced again meanwhile: that conflict stands
    d.registration = r.ok ? 'registered' : 'unregistered';
    if (r.ok) d.registeredAfterRequestId = lastRequestId;
    else d.retryAtMs = nowMs + this.retryMs;
    return false;
  }

  private onRekeyDone(nowMs: number, d: Device, r: StepResult, knownEpoch: number): boolean {
    if (d.registration !== 'rekeying') return false; // fenced meanwhile: that conflict stands
    if (r.ok) {
      d.registration = 'registered';
      return false;
    }
    if (r.keyGone === true) {
      if (this.fenced) {
        d.registration = 'unregistered'; // a second fence while registering again
        return false;
      }
      this.markFenced(nowMs, knownEpoch);
      return true;
    }
    d.registration = 'registered'; // the old key stays: try again after the retry period
    d.keyEpoch = d.previousKeyEpoch;
    d.retryAtMs = nowMs + this.retryMs;
    return false;
  }

  /** Every device holds this host's key (true without PR fencing). */
  registered(): boolean {
    return this.devices.every((d) => d.registration === 'registered');
  }

  /** Every device holds the key of `epoch` or newer (true without PR fencing): we may act in it. */
  keyCurrent(epoch: number): boolean {
    return this.devices.every((d) => d.registration === 'registered' && d.keyEpoch >= epoch);
  }
}
