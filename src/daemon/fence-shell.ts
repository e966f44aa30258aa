// The fence shell: builds the configured fencing driver over the voting disks (and the
// data disks) and carries out the engine's fence and unfence outputs, answering every
// fence with exactly one fence-done. Registration happens at start; the master takes
// the reservation when it becomes master (docs/daemon.md, "Fencing").
import type { Logger } from 'pino';
import type { HostId, Input, Output } from '../core/types.js';
import { SectorDevice } from '../disk/device.js';
import type { VotingDisk } from '../disk/voting-disk.js';
import { YcsError, toYcsError } from '../errors.js';
import { NoneFenceDriver, PrFenceDriver, createFenceDriver, type FenceDriver, type FenceOutcome } from '../fence/driver.js';
import type { Config } from './config.js';
import { deviceAccessFor } from './disk-shell.js';
import { StepQueue } from './step-queue.js';

export type FenceOutput = Extract<Output, { kind: 'fence' | 'unfence' }>;

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
}

export class FenceShell {
  private constructor(
    readonly driver: FenceDriver,
    private readonly dataDevices: SectorDevice[],
    private readonly opts: FenceShellOptions,
  ) {}

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

  /**
   * Registration follows admission, never the start of the process (docs/fencing.md): a
   * host that was fenced could otherwise let its old writers through again just by
   * restarting. A host admitted by a decision (standby or master) registers unless the
   * driver is latched fenced, which only the engine's `unfence` lifts; becoming master
   * then takes the reservation. All of this runs in order, one step at a time.
   */
  onRoleChange(from: string, to: string): void {
    if (this.driver.name === 'none') return;
    if (to === 'standby' || to === 'master') this.enqueue('register', () => this.registerIfAdmitted());
    if (to === 'master' && from !== 'master') {
      this.enqueue('reserve', async () => {
        await this.driver.reserveAsMaster();
        this.opts.log.info({}, 'holding the master reservation (Write Exclusive - Registrants Only) on every fenced device');
      });
    }
  }

  private async registerIfAdmitted(): Promise<void> {
    if (this.driver instanceof PrFenceDriver && this.driver.state !== 'unregistered') return;
    await this.driver.register();
    this.opts.log.info({}, 'admitted: registered this host\'s reservation key on every fenced device');
  }

  /** Every step on the storage, the operator's included, one after the other. */
  private readonly steps = new StepQueue();

  /** Queues a step of the engine's: a failed step is logged, the next still runs. */
  private enqueue(what: string, step: () => Promise<void>): Promise<void> {
    return this.steps.enqueue(step, (err: unknown) => {
      const e = toYcsError(err);
      this.opts.log.error({ code: e.code, step: what }, `fencing step ${what} failed: ${e.message}`);
    });
  }

  /** Own I/O failed with RESERVATION CONFLICT: the driver must not re-register by itself. */
  noteReservationConflict(): void {
    if (this.driver instanceof PrFenceDriver) this.driver.noteReservationConflict();
  }

  execute(output: FenceOutput): void {
    if (output.kind === 'unfence') {
      void this.enqueue('unfence', async () => {
        await this.driver.unfence();
        this.opts.log.info({ epoch: output.epoch }, `admitted again at epoch ${output.epoch}: re-registered this host's reservation key`);
      });
      return;
    }
    // In the queue, so the victim is preempted before this host reserves as master.
    void this.enqueue('fence', async () => {
      // A decision named this host master: it is admitted, so it may register first.
      try {
        if (this.driver instanceof PrFenceDriver && this.driver.state === 'unregistered') await this.registerIfAdmitted();
      } catch (err) {
        this.opts.log.warn({ code: toYcsError(err).code }, `could not register before fencing: ${toYcsError(err).message}`);
      }
      await this.fence(output.victim, output.epoch); // never throws; answers fence-done exactly once
    });
  }

  private async fence(victim: HostId, epoch: number): Promise<void> {
    let outcome: FenceOutcome | undefined;
    let detail: string;
    try {
      outcome = await this.driver.fence(victim);
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

  async unfenceByOperator(): Promise<unknown> {
    await this.steps.run(() => this.driver.unfence());
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
