// npm run bench:disk (root): latency of voting-disk I/O through the addon beside fio
// doing the same I/O on the same loop device, back to back and paced (one I/O every
// 10 ms, as the daemon reads every 100-250 ms), and the event-loop lag while all host
// slots are read every 100 ms.
//
// Addon latency is end to end as TypeScript sees it, from the call to the settled promise;
// fio's is its completion latency (clat) of the same syscall with ioengine=psync, direct=1,
// sync=1, same block size, offsets and count. Each operation is measured through both
// engines: io_uring (submitted from the JS thread, the default) and the device's I/O thread.
// Beside it: where the addon's time went, medians over the I/Os (docs/native-io.md).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, loadavg, setPriority } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SectorDevice } from '../src/disk/device.js';
import { attachLoop, scratchDir, sparseFile, type LoopDevice } from '../test/helpers/loop.js';

const MiB = 1024 * 1024;
const SECTOR = 512;
const SLOTS = 64;
const ALL_SLOTS_BYTES = SLOTS * SECTOR; // one read returns every host's heartbeat
const ROUNDS = 5; // addon and fio alternate; each figure is the median over the rounds
const TARGET_RATIO = 1.15;
const LAG_SECONDS = 5;

/** One way of issuing I/O: how many per round, and the pause between two I/Os. */
interface Pattern {
  name: string;
  writeLoops: number; // passes of one-sector writes over the 64 slots
  readCount: number; // all-slots reads
  pauseMs: number;
}

const BACK_TO_BACK: Pattern = { name: 'back to back', writeLoops: 4, readCount: 400, pauseMs: 0 };
const PACED: Pattern = { name: 'paced, one I/O every 10 ms', writeLoops: 1, readCount: SLOTS, pauseMs: 10 };

interface Round {
  addonP50Us: number;
  addonP99Us: number;
  queuedUs: number;
  syscallUs: number;
  deliveryUs: number;
  fioP50Us: number;
  fioP99Us: number;
  count: number;
}

function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

/** End-to-end latency of each call, plus the addon's own account of where it went. */
async function timeEach(device: SectorDevice, count: number, pauseMs: number, op: (i: number) => Promise<unknown>) {
  const total: number[] = [];
  const queued: number[] = [];
  const syscall: number[] = [];
  const delivery: number[] = [];
  for (let i = 0; i < count; i++) {
    if (pauseMs > 0) await sleep(pauseMs);
    const start = process.hrtime.bigint();
    await op(i);
    total.push(Number(process.hrtime.bigint() - start) / 1000);
    const t = device.lastIoTimings;
    queued.push(t.queuedNs / 1000);
    syscall.push(t.syscallNs / 1000);
    delivery.push(t.deliveryNs / 1000);
  }
  return {
    addonP50Us: percentile(total, 0.5), addonP99Us: percentile(total, 0.99), count,
    queuedUs: percentile(queued, 0.5), syscallUs: percentile(syscall, 0.5), deliveryUs: percentile(delivery, 0.5),
  };
}

interface FioJob {
  rw: 'read' | 'write';
  bs: number;
  loops: number;
  thinktimeUs: number;
}

/** fio over the same 32 KiB slot area: 64 one-sector writes or one 32 KiB read per loop. */
function runFio(device: string, job: FioJob): { fioP50Us: number; fioP99Us: number; count: number } {
  const args = [
    '--name=ycs-bench', `--filename=${device}`, '--ioengine=psync', '--direct=1', '--sync=1',
    `--rw=${job.rw}`, `--bs=${job.bs}`, '--offset=0', `--size=${ALL_SLOTS_BYTES}`, `--loops=${job.loops}`,
    ...(job.thinktimeUs > 0 ? [`--thinktime=${job.thinktimeUs}`] : []),
    '--percentile_list=50:99', '--output-format=json',
  ];
  const result = spawnSync('fio', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`fio failed: ${result.stderr || result.stdout}`);
  const report = JSON.parse(result.stdout) as {
    jobs: Array<Record<'read' | 'write', { total_ios: number; clat_ns: { percentile: Record<string, number> } }>>;
  };
  const stats = report.jobs[0]?.[job.rw];
  if (stats === undefined) throw new Error('fio printed no job statistics');
  const p = stats.clat_ns.percentile;
  return { fioP50Us: (p['50.000000'] ?? 0) / 1000, fioP99Us: (p['99.000000'] ?? 0) / 1000, count: stats.total_ios };
}

/** One table row: an operation through one device handle, and fio doing the same I/O. */
interface Operation {
  name: string;
  device: SectorDevice;
  rw: 'read' | 'write';
  run(i: number): Promise<unknown>;
}

function operations(uring: SectorDevice, thread: SectorDevice): Operation[] {
  const sector = Buffer.alloc(SECTOR, 0xa5);
  const slots = Buffer.alloc(ALL_SLOTS_BYTES);
  const ops: Operation[] = [];
  for (const device of [uring, thread]) {
    const engine = device.info.ioEngine;
    ops.push({ name: `write 1 sector, ${engine}`, device, rw: 'write', run: (i) => device.write((i % SLOTS) * SECTOR, sector) });
    // What the daemon does every 100-250 ms (VotingDisk.readHeartbeats): one reused buffer.
    ops.push({ name: `read ${SLOTS} slots, ${engine}`, device, rw: 'read', run: () => device.readInto(0, slots) });
  }
  // The same read returning a fresh 32 KiB Buffer each time (SectorDevice.read).
  ops.push({ name: `  ...into a new Buffer`, device: uring, rw: 'read', run: () => uring.read(0, ALL_SLOTS_BYTES) });
  return ops;
}

/** Alternates addon and fio op by op and round by round, so drift on a shared machine hits both alike. */
async function measure(ops: Operation[], loop: LoopDevice, pattern: Pattern): Promise<Round[][]> {
  const thinktimeUs = pattern.pauseMs * 1000;
  const rounds: Round[][] = ops.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [k, op] of ops.entries()) {
      const writes = op.rw === 'write';
      const count = writes ? pattern.writeLoops * SLOTS : pattern.readCount;
      const fio = runFio(loop.device, { rw: op.rw, bs: writes ? SECTOR : ALL_SLOTS_BYTES, loops: writes ? pattern.writeLoops : pattern.readCount, thinktimeUs });
      const addon = await timeEach(op.device, count, pattern.pauseMs, op.run);
      rounds[k]!.push({ ...addon, ...fio, count: addon.count + fio.count });
    }
  }
  return rounds;
}

function median(values: number[]): number {
  return percentile(values, 0.5);
}

/** One table row: medians over the rounds; the ratio is the median of the per-round ratios, with its spread. */
function row(name: string, rounds: Round[]): string {
  const m = (key: keyof Round): number => median(rounds.map((r) => r[key]));
  const ratios = rounds.map((r) => r.addonP50Us / r.fioP50Us);
  const ratio = median(ratios);
  const verdict = ratio <= TARGET_RATIO ? 'ok' : `MISS (> ${TARGET_RATIO})`;
  const us = (v: number): string => v.toFixed(1).padStart(9);
  return [
    name.padEnd(24), us(m('addonP50Us')), us(m('addonP99Us')), us(m('fioP50Us')), us(m('fioP99Us')),
    ratio.toFixed(2).padStart(7), `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`.padStart(10),
    (m('addonP99Us') / m('fioP99Us')).toFixed(2).padStart(7), `${verdict}`.padEnd(14),
    us(m('queuedUs')), us(m('syscallUs')), us(m('deliveryUs')), (m('syscallUs') / m('fioP50Us')).toFixed(2).padStart(7),
  ].join(' ');
}

function printTable(pattern: Pattern, ops: Operation[], figures: Round[][]): void {
  const perRound = `${pattern.writeLoops * SLOTS} one-sector writes or ${pattern.readCount} reads of ${ALL_SLOTS_BYTES / 1024} KiB`;
  console.log(`\n${pattern.name}: ${perRound} per round on each side`);
  console.log(['operation'.padEnd(24), 'addon p50', 'addon p99', '  fio p50', '  fio p99', '  p50 x', '  (rounds)', '  p99 x',
    'target'.padEnd(14), '   queued', '  syscall', ' delivery', 'sysc. x'].join(' '));
  ops.forEach((op, k) => console.log(row(op.name, figures[k]!)));
}

async function measureLag(device: SectorDevice): Promise<{ p99Ms: number; maxMs: number; reads: number }> {
  const lag = monitorEventLoopDelay({ resolution: 1 });
  const slots = Buffer.alloc(ALL_SLOTS_BYTES);
  let reads = 0;
  lag.enable();
  const timer = setInterval(() => {
    void device.readInto(0, slots).then(() => reads++);
  }, 100);
  await sleep(LAG_SECONDS * 1000);
  clearInterval(timer);
  lag.disable();
  return { p99Ms: lag.percentile(99) / 1e6, maxMs: lag.max / 1e6, reads };
}

async function bench(loop: LoopDevice): Promise<void> {
  const device = await SectorDevice.open(loop.device);
  const threaded = await SectorDevice.open(loop.device, { ioEngine: 'thread' });
  try {
    if (device.info.ioEngine !== 'io_uring') console.log('note: io_uring is not available here; both rows use the I/O thread');
    const ops = operations(device, threaded);
    // Warm-up: threads, caches, the backing file's blocks.
    for (const op of ops) await timeEach(op.device, 2 * SLOTS, 0, op.run);
    runFio(loop.device, { rw: 'read', bs: ALL_SLOTS_BYTES, loops: 200, thinktimeUs: 0 });
    const backToBack = await measure(ops, loop, BACK_TO_BACK);
    const paced = await measure(ops, loop, PACED);
    // The hand-off floor: a call that does no I/O (a loop device refuses block PR at once)
    // still crosses to the I/O thread and back.
    const floor = await timeEach(device, BACK_TO_BACK.readCount, 0, () => device.blockPr({ op: 'clear', oldKey: 1n }));
    const lag = await measureLag(device);
    const [load1] = loadavg();
    console.log(`ycs disk benchmark on ${loop.device} (loop, 64 MiB sparse file, ${SECTOR} B sectors, ` +
      `${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, node ${process.version}, ${cpus().length} CPUs, load ${load1?.toFixed(1)}, nice -10)`);
    console.log(`latency in microseconds, median over ${ROUNDS} alternating rounds; p50 x = addon p50 / fio p50, the median ` +
      `of the per-round ratios and their range (target <= ${TARGET_RATIO})`);
    console.log('addon = end to end in JS, from the call to the settled promise; fio = clat of the same pread/pwrite');
    console.log('engines: io_uring = submitted from the JS thread, completion through an eventfd on the event loop (the default); ' +
      'thread = the device\'s I/O thread and a thread-safe function (iscsi://, or no io_uring)');
    console.log('diagnostics (p50 on the addon side): queued = hand-off to the I/O thread (0 with io_uring), syscall = the I/O ' +
      '(io_uring: submission to completion), delivery = on to the JS thread settling the promise; sysc. x = syscall / fio p50');
    printTable(BACK_TO_BACK, ops, backToBack);
    printTable(PACED, ops, paced);
    console.log(`\nhand-off floor (a call with no I/O, to the I/O thread and back): p50 ${floor.addonP50Us.toFixed(1)} us, ` +
      `p99 ${floor.addonP99Us.toFixed(1)} us`);
    console.log(`event-loop lag while reading ${SLOTS} slots every 100 ms for ${LAG_SECONDS} s: ` +
      `p99 ${lag.p99Ms.toFixed(2)} ms, max ${lag.maxMs.toFixed(2)} ms (${lag.reads} reads)`);
  } finally {
    await device.close();
    await threaded.close();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:disk needs root (it attaches a loop device)');
  // Both sides (the addon's threads and the fio children) inherit this priority, which
  // keeps other jobs on a shared machine from dominating the figures.
  setPriority(-10);
  const scratch = scratchDir('ycs-bench-');
  let loop: LoopDevice | undefined;
  try {
    loop = attachLoop(sparseFile(join(scratch.dir, 'bench.img'), 64 * MiB), SECTOR);
    await bench(loop);
  } finally {
    loop?.detach();
    scratch.remove();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
