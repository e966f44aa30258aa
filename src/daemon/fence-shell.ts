// The fence shell: builds the configured fencing driver over the voting disks (and the
// data disks) and carries out the engine's fence and unfence outputs, answering every
// fence with exactly one fence-done. Registration happens at start; the master takes
// the reservation when it becomes master (docs/daemon.md, "Fencing").
import type { Logger } from 'pino';
import type { HostId, Input, Output } from '../core/types.js';
import { SectorDevice } from '../disk/device.js';
import type { VotingDisk } from '../disk/voting-disk.js';
import { YcsError, toYcsError } from '../errors.js';
import { NoneFenceDriver, PrFenceDriver, type FenceDriver, type FenceOutcome } from '../fence/driver.js';
import { prTransportFor } from '../fence/transport.js';
import type { Config } from './config.js';
import { deviceAccessFor } from './disk-shell.js';

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
    const kind = config.fencing === 'block-pr' ? 'block-pr' : 'scsi';
    const dataDevices: SectorDevice[] = [];
    try {
      for (const path of config.dataDisks) dataDevices.push(await SectorDevice.open(path, deviceAccessFor(path, config)));
      const devices = [...opts.disks.map((d) => d.device), ...dataDevices].map((device) => ({
        path: device.info.path,
        transport: prTransportFor(device, kind),
      }));
      const driver = new PrFenceDriver({ clusterUuid: opts.clusterUuid, hostId: config.hostId, devices });
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
   * Registers this host's key at start. A PR reservation of type WERO refuses writes from
   * unregistered hosts, so a host must register before its first heartbeat write; a host
   * that was fenced learns it from the engine (its decision) and is unfenced on admission.
   */
  async register(): Promise<void> {
    if (this.driver.name === 'none') return;
    try {
      await this.driver.register();
      this.opts.log.info({ driver: this.driver.name }, 'registered this host\'s reservation key on every fenced device');
    } catch (err) {
      const e = toYcsError(err);
      this.opts.log.error({ code: e.code }, `could not register the reservation key: ${e.message}`);
    }
  }

  onRoleChange(to: string): void {
    if (to !== 'master' || this.driver.name === 'none') return;
    this.driver.reserveAsMaster().then(
      () => this.opts.log.info({}, 'holding the master reservation (Write Exclusive - Registrants Only) on every fenced device'),
      (err: unknown) => {
        const e = toYcsError(err);
        this.opts.log.error({ code: e.code }, `could not take the master reservation: ${e.message}`);
      },
    );
  }

  /** Own I/O failed with RESERVATION CONFLICT: the driver must not re-register by itself. */
  noteReservationConflict(): void {
    if (this.driver instanceof PrFenceDriver) this.driver.noteReservationConflict();
  }

  execute(output: FenceOutput): void {
    if (output.kind === 'unfence') {
      this.driver.unfence().then(
        () => this.opts.log.info({ epoch: output.epoch }, `admitted again at epoch ${output.epoch}: re-registered this host's reservation key`),
        (err: unknown) => this.opts.log.error({ code: toYcsError(err).code }, `could not re-register after admission: ${toYcsError(err).message}`),
      );
      return;
    }
    void this.fence(output.victim, output.epoch);
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
    const outcome = await this.driver.fence(host);
    this.opts.log.warn({ victim: host, outcome: jsonSafe(outcome) }, `operator fenced host ${host}`);
    return jsonSafe(outcome);
  }

  async unfenceByOperator(): Promise<unknown> {
    await this.driver.unfence();
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
