// Cost of the round-trip check in the slot encoders (src/disk/slots.ts): every encode
// decodes its sector again. Printed beside a plain decode of the same sector (the part
// the check adds) and the heartbeat interval it runs in: npm run bench:layout
import { performance } from 'node:perf_hooks';
import type { HeartbeatPayload, SlotRecord } from '../src/core/types.js';
import { decodeHeartbeatSlot, encodeHeartbeatSlot } from '../src/disk/layout.js';

const UUID = '6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
const ROUNDS = 5;
const N = 20_000;

function record(sequence: number): SlotRecord<HeartbeatPayload> {
  const payload: HeartbeatPayload = { role: 'master', epoch: 42, masterId: 3, heard: [1, 2, 4, 5, 7], resources: [{ state: 'primary' }, { state: 'standby' }], flags: 0 };
  return { hostId: 3, incarnation: 9, sequence, payload };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const encodeUs: number[] = [];
const decodeUs: number[] = [];
let sector = encodeHeartbeatSlot(record(1), UUID, 4096);
for (let round = 0; round < ROUNDS; round++) {
  let t = performance.now();
  for (let i = 0; i < N; i++) sector = encodeHeartbeatSlot(record(i + 2), UUID, 4096);
  encodeUs.push(((performance.now() - t) * 1000) / N);
  t = performance.now();
  for (let i = 0; i < N; i++) decodeHeartbeatSlot(sector, { clusterUuid: UUID, hostId: 3 });
  decodeUs.push(((performance.now() - t) * 1000) / N);
}
const enc = median(encodeUs);
const dec = median(decodeUs);
console.log(`heartbeat slot, 4 KiB sector, median of ${ROUNDS} rounds of ${N}`);
console.log(`encode with round-trip check: ${enc.toFixed(2)} us/op`);
console.log(`decode alone (what the check adds): ${dec.toFixed(2)} us/op (${((dec / enc) * 100).toFixed(0)} % of an encode)`);
console.log(`per host per DISK_HB_INTERVAL (250 ms, one encode per voting disk, 5 disks): ${(5 * enc).toFixed(1)} us, ${((5 * enc) / 2500).toFixed(4)} % of the interval`);
