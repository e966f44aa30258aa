// The storage-level checker (docs/campaign.md): reads what landed on the data LUN and the
// databases' acknowledged-write logs, and fails on
//   (a) a record of an older epoch issued after a newer epoch's first record was issued
//       (wall-clock stamps: every host runs on this machine, so one clock orders them),
//   (b) two hosts whose records both landed in one epoch,
//   (c) an acknowledged write (epoch, host, pid, seq, lba) missing at its LBA,
// plus torn or misplaced records. Pure: the campaign reads the bytes, this judges them.
import { decodeSector, type DataRecord } from './record.js';

export interface AckedWrite {
  epoch: number;
  host: number;
  pid: number;
  seq: number;
  lba: number;
}

export interface CheckResult {
  records: number;
  acked: number;
  epochs: number;
  violations: string[];
}

/** Every record in `lun` (the whole LUN image, or a prefix of it). */
export function readRecords(lun: Uint8Array, sectorSize = 512): { records: DataRecord[]; bad: string[] } {
  const records: DataRecord[] = [];
  const bad: string[] = [];
  for (let lba = 0; (lba + 1) * sectorSize <= lun.byteLength; lba++) {
    const d = decodeSector(lun.subarray(lba * sectorSize, (lba + 1) * sectorSize), lba);
    if (d.kind === 'record') records.push(d.record);
    else if (d.kind === 'bad') bad.push(d.why);
  }
  return { records, bad };
}

/** Ack-log lines `epoch=E host=H pid=P seq=N lba=L` (one per write the target answered GOOD). */
export function parseAckLog(text: string): AckedWrite[] {
  const out: AckedWrite[] = [];
  for (const line of text.split('\n')) {
    const m = /^epoch=(\d+) host=(\d+) pid=(\d+) seq=(\d+) lba=(\d+)$/.exec(line.trim());
    if (m) out.push({ epoch: Number(m[1]), host: Number(m[2]), pid: Number(m[3]), seq: Number(m[4]), lba: Number(m[5]) });
  }
  return out;
}

export function checkStorage(records: DataRecord[], acked: AckedWrite[], bad: string[] = []): CheckResult {
  const violations = [...bad];
  const firstOfEpoch = new Map<number, DataRecord>();
  const writers = new Map<number, Set<number>>();
  for (const r of records) {
    const first = firstOfEpoch.get(r.epoch);
    if (first === undefined || r.wallMs < first.wallMs) firstOfEpoch.set(r.epoch, r);
    writers.set(r.epoch, (writers.get(r.epoch) ?? new Set()).add(r.host));
  }
  for (const [epoch, hosts] of writers) {
    if (hosts.size > 1) violations.push(`(b) epoch ${epoch}: writes of hosts ${[...hosts].sort().join(' and ')} both landed`);
  }
  // (a): for each record, any newer epoch whose first record was issued before it.
  const firsts = [...firstOfEpoch.values()].sort((x, y) => x.epoch - y.epoch);
  for (const r of records) {
    const newer = firsts.find((f) => f.epoch > r.epoch && f.wallMs < r.wallMs);
    if (newer !== undefined) {
      violations.push(`(a) LBA ${r.lba}: host ${r.host} epoch ${r.epoch} seq ${r.seq} issued at ${r.wallMs.toFixed(1)} after epoch ${newer.epoch}'s first record (host ${newer.host}, ${newer.wallMs.toFixed(1)})`);
    }
  }
  const at = new Map(records.map((r) => [r.lba, r]));
  for (const a of acked) {
    const r = at.get(a.lba);
    if (r === undefined || r.epoch !== a.epoch || r.host !== a.host || r.pid !== a.pid || r.seq !== a.seq) {
      const found = r === undefined ? 'nothing' : `epoch ${r.epoch} host ${r.host} pid ${r.pid} seq ${r.seq}`;
      violations.push(`(c) acknowledged write epoch ${a.epoch} host ${a.host} pid ${a.pid} seq ${a.seq} missing at LBA ${a.lba} (found ${found})`);
    }
  }
  return { records: records.length, acked: acked.length, epochs: firstOfEpoch.size, violations };
}
