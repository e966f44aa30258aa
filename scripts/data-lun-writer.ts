// The demo database's data-LUN mode (docs/campaign.md): while primary with a valid
// heartbeat-2 lease it writes one record (test/campaign/record.ts) per sector to the
// shared data LUN through its own iSCSI I_T nexus, and appends every write the target
// acknowledged to an ack log. The storage, not ycs, must refuse a fenced host's writes:
//
// - Its nexus: the host's initiator name (deviceAccessFor) with its own ISID (ycs's + 0x100).
// - Each term (and every KEY_CHECK_MS) it asks ycs's `fence-status` for the key its host
//   holds now (keys carry the epoch and ycs re-keys each epoch; the db never computes a
//   key), sends REGISTER AND IGNORE EXISTING KEY with it on its nexus, then READ KEYS.
//   It writes only while that value is listed at least twice (its nexus and ycs's); else
//   it unregisters and tries again later. After a fence both registrations are gone, so
//   only its own new one is listed: a fenced host cannot resume by re-registering.
// - RESERVATION CONFLICT on a write = fenced: it stops writing and logs it, with the keys
//   the target lists. It writes again in that term only if a later key check passes (its
//   host's ycs still holds its current key on the data LUN, the db registered it again):
//   a conflict can also mean the db's own registration went while its host was not
//   fenced (seen in the 200-fault run, docs/campaign.md), and a master whose database
//   never writes again would never heal. A fenced host cannot pass that check.
// - Host h writes LBAs [(h-1)*R, h*R) append-only; a restarted db goes on 2 past the
//   highest LBA its ack log names (acked or failed), since one write may have been in flight.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { YcsClient } from '../src/client/index.js';
import { loadConfig } from '../src/config/index.js';
import { callDaemon } from '../src/control/client.js';
import { deviceAccessFor } from '../src/daemon/disk-shell.js';
import { SectorDevice } from '../src/disk/device.js';
import { isYcsError, toYcsError } from '../src/errors.js';
import { ScsiPrTransport } from '../src/fence/transport.js';
import { encodeRecord } from '../test/campaign/record.js';

const SECTOR = 512;
/** How long a passed key check holds: re-checked about once per epoch change or this often. */
const KEY_CHECK_MS = 1000;
/** The db's nexus: ycs's ISID + 0x100, so the target sees a second I_T nexus of the host. */
const DB_ISID_OFFSET = 0x100n;

export interface DataLunWriterOptions {
  ycsConfigPath: string;
  ackLogPath: string;
  /** Sectors per host region. */
  regionSectors: number;
  writeIntervalMs: number;
  /** Broken on purpose (the campaign's negative test): keeps writing after losing the role or lease. */
  unsafeIgnoreLease: boolean;
  log: Logger;
}

/** The next LBA after whatever this host's earlier dbs wrote or tried (ack-log lines name the LBA). */
function resumeLba(ackLogPath: string, regionStart: number): number {
  if (!existsSync(ackLogPath)) return regionStart;
  let max = -1;
  for (const m of readFileSync(ackLogPath, 'utf8').matchAll(/lba=(\d+)/g)) max = Math.max(max, Number(m[1]));
  return max < 0 ? regionStart : Math.max(regionStart, max + 2);
}

export class DataLunWriter {
  private device: SectorDevice | undefined;
  private transport: ScsiPrTransport | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private seq = 0;
  private lba: number;
  private readonly regionEnd: number;
  private readonly devicePath: string;
  /** The host's ycs config: its id, control socket, fencing, and how to reach the data LUN. */
  private readonly config: ReturnType<typeof loadConfig>;
  /** The term (epoch) being written; a fenced one writes only after a key check passes again. */
  private term = { epoch: -1, fenced: false, keyOkUntil: 0, key: 0n };
  /** Unsafe mode: the epoch it was last primary at. */
  private stickyEpoch: number | undefined;
  writes = 0;

  constructor(private readonly client: YcsClient, private readonly opts: DataLunWriterOptions) {
    const config = loadConfig(opts.ycsConfigPath);
    const path = config.dataDisks[0];
    if (path === undefined) throw new Error(`E_CONFIG: ${opts.ycsConfigPath} names no data disk`);
    this.devicePath = path;
    this.config = config;
    const start = (config.hostId - 1) * opts.regionSectors;
    this.regionEnd = start + opts.regionSectors;
    this.lba = resumeLba(opts.ackLogPath, start);
  }

  start(): void {
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (!this.stopped) this.timer = setTimeout(() => void this.tick().finally(() => this.schedule(this.opts.writeIntervalMs)), ms);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.device?.close().catch(() => undefined);
  }

  private async open(): Promise<void> {
    if (this.device !== undefined) return;
    const access = deviceAccessFor(this.devicePath, this.config);
    if (access.iscsiIsid !== undefined) access.iscsiIsid += DB_ISID_OFFSET;
    this.device = await SectorDevice.open(this.devicePath, { ...access, ioTimeoutMs: 3000 });
    this.transport = new ScsiPrTransport(this.device);
    this.opts.log.info({ device: this.devicePath, lba: this.lba }, `data LUN ${this.devicePath} opened on the db's own nexus; next LBA ${this.lba}`);
  }

  /** The epoch it may write at now, or undefined. Synchronous: the caller stamps and issues at once. */
  private writableEpoch(): number | undefined {
    const { epoch } = this.client.state();
    if (this.client.canWrite(epoch)) {
      this.stickyEpoch = epoch;
      return epoch;
    }
    if (this.opts.unsafeIgnoreLease && this.stickyEpoch !== undefined) return this.stickyEpoch; // broken on purpose
    return undefined;
  }

  private async tick(): Promise<void> {
    let epoch = this.writableEpoch();
    if (epoch === undefined) return;
    try {
      await this.open();
      if (epoch !== this.term.epoch) this.term = { epoch, fenced: false, keyOkUntil: 0, key: 0n };
      if (this.term.fenced && Date.now() < this.term.keyOkUntil) return;
      if (!this.opts.unsafeIgnoreLease && Date.now() >= this.term.keyOkUntil && !(await this.checkKey())) return;
      if (this.term.fenced) {
        this.term.fenced = false;
        this.opts.log.warn({ epoch, key: `0x${this.term.key.toString(16)}` }, `not fenced after all: this host's ycs still holds key 0x${this.term.key.toString(16)} on the data LUN and the db registered it again; writing again at epoch ${epoch}`);
      }
    } catch (err) {
      this.opts.log.warn({ err: toYcsError(err).toLine() }, `data LUN key check failed: ${toYcsError(err).message}`);
      this.term.keyOkUntil = 0;
      return;
    }
    // Check, stamp and issue in one synchronous step (the lease may have run out meanwhile).
    epoch = this.writableEpoch();
    if (epoch !== this.term.epoch || this.device === undefined) return;
    if (this.lba >= this.regionEnd) {
      this.opts.log.error({ lba: this.lba }, 'data LUN region full: no more writes');
      return;
    }
    const record = { epoch, host: this.config.hostId, pid: process.pid, seq: ++this.seq, wallMs: Date.now(), lba: this.lba++ };
    const line = `epoch=${record.epoch} host=${record.host} pid=${record.pid} seq=${record.seq} lba=${record.lba}`;
    try {
      await this.device.write(record.lba * SECTOR, encodeRecord(record, SECTOR), { timeoutMs: 3000 });
      appendFileSync(this.opts.ackLogPath, `${line}\n`);
      this.writes++;
    } catch (err) {
      const e = toYcsError(err);
      appendFileSync(this.opts.ackLogPath, `failed ${line} ${e.code}\n`);
      if (isYcsError(err, 'E_RESERVATION_CONFLICT')) {
        this.term.fenced = true;
        this.term.keyOkUntil = Date.now() + KEY_CHECK_MS; // the next key check decides whether it really was fenced
        this.term.key = 0n; // register again then
        const keys = await this.transport?.readKeys().then((k) => k.keys.map((x) => `0x${x.toString(16)}`).join(' ')).catch((e: unknown) => toYcsError(e).code);
        this.opts.log.warn({ epoch, lba: record.lba, keys }, `fenced at the storage: the target refused a write at epoch ${epoch} (RESERVATION CONFLICT); keys listed: ${keys}; no writes until a key check shows this host's ycs still registered`);
      } else {
        this.term.keyOkUntil = 0; // a session reset may have dropped the registration
        this.opts.log.warn({ epoch, lba: record.lba, err: e.toLine() }, `data LUN write failed: ${e.message}`);
      }
    }
  }

  /** Registers ycs's current key on the db's nexus and checks that ycs's nexus holds it too. */
  private async checkKey(): Promise<boolean> {
    if (this.config.fencing === 'none') {
      this.term.keyOkUntil = Number.POSITIVE_INFINITY;
      return true;
    }
    const status = (await callDaemon(this.config.controlSocket, 'fence-status', {}, 2000)) as { key?: string };
    if (typeof status.key !== 'string') throw new Error('E_PROTOCOL: fence-status gave no key');
    const key = BigInt(status.key);
    const t = this.transport!;
    if (key !== this.term.key) await t.registerAndIgnore(key);
    const { keys } = await t.readKeys();
    const listed = keys.filter((k) => k === key).length;
    if (listed >= 2) {
      if (key !== this.term.key) this.opts.log.info({ epoch: this.term.epoch, key: status.key, listed }, `registered key ${status.key} on the data LUN for epoch ${this.term.epoch}`);
      this.term.key = key;
      this.term.keyOkUntil = Date.now() + KEY_CHECK_MS;
      return true;
    }
    await t.registerAndIgnore(0n).catch(() => undefined);
    this.term.key = 0n;
    this.opts.log.warn({ epoch: this.term.epoch, key: status.key, listed }, `key ${status.key} is not held by this host's ycs on the data LUN: not writing`);
    return false;
  }
}
