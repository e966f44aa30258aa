// The fence shell: builds the configured fencing driver over the voting disks (and the
// data disks, numbered after them) and carries out the engine's register, rekey, reserve
// and fence outputs one at a time in output order (docs/engine.md, ordering rule 6),
// answering every register/rekey/reserve with exactly one fence-step-done and every fence
// with exactly one fence-done. It decides nothing: who registers when, who is fenced, and
// which of a victim's keys a fence may remove are the engine's (src/core/storage-fencing.ts,
// Engine.mayPreempt).
import type { Logger } from 'pino';
import { preemptable } from '../core/key-epochs.js';
import type { HostId, Input, Output } from '../core/types.js';
import { SectorDevice } from '../disk/device.js';
import type { VotingDisk } from '../disk/voting-disk.js';
import { YcsError, isYcsError, toYcsError } from '../errors.js';
import { isSessionReset } from '../fence/transport.js';
import { NoneFenceDriver, createFenceDriver, type FenceDriver, type FenceOutcome } from '../fence/driver.js';
import type { Config } from '../config/index.js';
import { deviceAccessFor } from './disk-shell.js';
import { StepQueue } from './step-queue.js';

export type FenceOutput = Extract<Output, { kind: 'fence' | 'register' | 'rekey' | 'reserve' }>;

/** JSON cannot carry bigints (reservation keys): they travel as 0x-prefixed hex. */
export function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return `0x${value.toString(16).padStart(16, '0')}`;
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  }
  return value;
}

export interface FenceShellOptions {
  config: Config;
  clusterUuid: string;
  disks: VotingDisk[];
  feed: (input: Input) => void;
  now: () => number;
  log: Logger;
  /** Engine.fenceWanted, asked just before each PREEMPT (default: always). */
  fenceWanted?: (victim: HostId, epoch: number) => boolean;
  /** Engine.mayPreempt, asked for each key of the victim the fence read (default: only older epochs' keys). */
  mayPreempt?: (keyEpoch: number | null, fenceEpoch: number) => boolean;
}

const STEP_DONE = {
  register: "registered this host's key",
  rekey: "re-keyed this host's registration",
  reserve: 'holds the master reservation (Write Exclusive - Registrants Only)',
} as const;

export class FenceShell {
  private constructor(
    readonly driver: FenceDriver,
    private readonly dataDevices: SectorDevice[],
    private readonly opts: FenceShellOptions,
  ) {}

  /** A shell over an already built driver and no data disks of its own (tests, tools). */
  static overDriver(driver: FenceDriver, opts: FenceShellOptions): FenceShell {
    return new FenceShell(driver, [], opts);
  }

  /** Opens the data disks (PR drivers only) and builds the driver; fencing 'none' opens nothing. */
  static async open(opts: FenceShellOptions): Promise<FenceShell> {
    const { config } = opts;
    if (config.fencing === 'none') return new FenceShell(new NoneFenceDriver(config.hostId), [], opts);
    const dataDevices: SectorDevice[] = [];
    try {
      for (const path of config.dataDisks) dataDevices.push(await SectorDevice.open(path, deviceAccessFor(path, config)));
      // The transport (SG_IO / libiscsi or the kernel's PR ioctls) follows each device's
      // path (src/fence/transport.ts); regular files are refused with E_CONFIG.
      const driver = createFenceDriver({
        driver: 'pr',
        clusterUuid: opts.clusterUuid,
        hostId: config.hostId,
        devices: [...opts.disks.map((d) => d.device), ...dataDevices],
        renewOnSessionReset: false, // the engine re-registers after a reset (src/core/storage-fencing.ts)
      });
      return new FenceShell(driver, dataDevices, opts);
    } catch (err) {
      await Promise.all(dataDevices.map((d) => d.close().catch(() => undefined)));
      throw err;
    }
  }

  /** The engine's fencing mode: 'pr' lets a new master promote as soon as the victims are fenced. */
  get engineMode(): 'pr' | 'none' {
    return this.driver.name;
  }

  /** Every step on the storage, the operator's included, one after the other. */
  private readonly steps = new StepQueue();

  execute(output: FenceOutput): void {
    if (output.kind === 'fence') {
      void this.steps.enqueue(() => this.fence(output.victim, output.epoch), this.bug); // one fence-done
      return;
    }
    void this.steps.enqueue(() => this.step(output), this.bug); // one fence-step-done
  }

  /** fence() and step() catch everything: reaching this is a bug in them. */
  private readonly bug = (err: unknown): void => {
    this.opts.log.error({ err }, `fencing step threw: ${toYcsError(err).message}`);
  };

  /** One register, rekey or reserve on one device; answers exactly one fence-step-done, never throws. */
  private async step(o: Extract<FenceOutput, { kind: 'register' | 'rekey' | 'reserve' }>): Promise<void> {
    const path = this.devicePath(o.device);
    let detail: string | undefined;
    let sessionReset = false;
    let keyGone = false;
    try {
      if (o.kind === 'register') await this.driver.registerDevice(o.device, o.epoch);
      else if (o.kind === 'rekey') await this.driver.rekeyDevice(o.device, o.fromEpoch, o.epoch);
      else await this.driver.reserveDevice(o.device);
    } catch (err) {
      detail = toYcsError(err).toLine();
      sessionReset = isSessionReset(err); // the target may have dropped our registration with the session
      keyGone = o.kind === 'rekey' && isYcsError(err, 'E_RESERVATION_CONFLICT'); // the old key was preempted
    }
    const ok = detail === undefined;
    const what = STEP_DONE[o.kind];
    if (ok) this.opts.log.info({ step: o.kind, device: path, epoch: o.epoch }, `${what} on ${path} at epoch ${o.epoch}`);
    else this.opts.log.warn({ step: o.kind, device: path, epoch: o.epoch, detail }, `fencing step ${o.kind} on ${path} failed: ${detail}`);
    this.opts.feed({
      kind: 'fence-step-done', nowMs: this.opts.now(), step: o.kind, device: o.device, ok,
      ...(ok ? {} : { detail }), ...(sessionReset ? { sessionReset } : {}), ...(keyGone ? { keyGone } : {}),
    });
  }

  /** The path of fenced device `index`: the voting disks first, then the data disks. */
  private devicePath(index: number): string {
    const { config } = this.opts;
    return [...config.votingDisks, ...config.dataDisks][index] ?? `device ${index}`;
  }

  private async fence(victim: HostId, epoch: number): Promise<void> {
    let outcome: FenceOutcome | undefined;
    let detail: string;
    if (this.opts.fenceWanted?.(victim, epoch) === false) {
      // Queued behind other steps while the engine moved on: a newer decision or term.
      this.opts.log.info({ victim, epoch }, `fence of host ${victim} for epoch ${epoch} dropped: the engine moved on`);
      this.opts.feed({ kind: 'fence-done', nowMs: this.opts.now(), victim, ok: false, detail: 'dropped: no longer wanted by the engine' });
      return;
    }
    try {
      const mayPreempt = this.opts.mayPreempt ?? preemptable;
      outcome = await this.driver.fence(victim, { mayPreempt: (keyEpoch) => mayPreempt(keyEpoch, epoch) });
      detail = outcome.kind === 'fenced' ? outcome.devices.map((d) => `${d.device}: ${d.method}`).join(', ') : outcome.reason;
    } catch (err) {
      detail = toYcsError(err).toLine();
    }
    const ok = outcome?.kind === 'fenced';
    this.opts.log[ok ? 'info' : 'warn']({ victim, epoch, ok, detail }, ok ? `fenced host ${victim} at the storage` : `host ${victim} was not fenced: ${detail}`);
    this.opts.feed({ kind: 'fence-done', nowMs: this.opts.now(), victim, ok, detail });
  }

  /** `ycsctl fence HOST` through the daemon: refuses its own host and unknown hosts. */
  async fenceByOperator(host: unknown): Promise<unknown> {
    if (typeof host !== 'number' || !Number.isInteger(host) || !this.opts.config.hosts.some((h) => h.id === host)) {
      throw new YcsError('E_INVALID_ARGUMENT', `host must be one of the configured host ids (${this.opts.config.hosts.map((h) => h.id).join(', ')})`);
    }
    if (host === this.opts.config.hostId) throw new YcsError('E_REFUSED', 'a host never fences itself');
    // Queued behind the engine's own steps, so it never interleaves with a registration,
    // a reservation or another fence on the same devices.
    const outcome = await this.steps.run(() => this.driver.fence(host));
    this.opts.log.warn({ victim: host, outcome: jsonSafe(outcome) }, `operator fenced host ${host}`);
    return jsonSafe(outcome);
  }

  /** `ycsctl unfence` through the daemon: registers the key of `epoch` (the decided epoch that admits us). */
  async unfenceByOperator(epoch: number): Promise<unknown> {
    await this.steps.run(() => this.driver.register(epoch));
    this.opts.log.warn({}, 'operator re-registered this host\'s reservation key');
    return jsonSafe(await this.driver.status());
  }

  async status(): Promise<unknown> {
    return jsonSafe(await this.driver.status());
  }

  async close(): Promise<void> {
    await Promise.all(this.dataDevices.map((d) => d.close().catch(() => undefined)));
  }
}
