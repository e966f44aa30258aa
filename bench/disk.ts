// npm run bench:disk (root): latency of voting-disk I/O through the addon beside fio
// doing the same I/O on the same loop device, back to back and paced (one I/O every
// 10 ms, as the daemon reads every 100-250 ms), and the event-loop lag while all host
// slots are read every 100 ms.
//
// Addon latency is end to end as TypeScript sees it (call -> I/O thread -> pwrite/pread ->
// thread-safe function -> promise settled); fio's is its completion latency (clat) of the
// same syscall with ioengine=psync, direct=1, sync=1, same block size, offsets and count.
// Beside it: where the addon's time went (queued = hand-off to the I/O thread, syscall
// on the I/O thread, delivery = hand-off back to the JS thread), medians over the I/Os.
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

/** Alternates addon and fio round by round, so that drift on a shared machine hits both alike. */
async function measure(device: SectorDevice, loop: LoopDevice, pattern: Pattern): Promise<{ write: Round[]; read: Round[] }> {
  const sector = Buffer.alloc(SECTOR, 0xa5);
  const writeOp = (i: number): Promise<void> => device.write((i % SLOTS) * SECTOR, sector);
  const readOp = (): Promise<Buffer> => device.read(0, ALL_SLOTS_BYTES);
  const thinktimeUs = pattern.pauseMs * 1000;
  const rounds = { write: [] as Round[], read: [] as Round[] };
  for (let round = 0; round < ROUNDS; round++) {
    const w = await timeEach(device, pattern.writeLoops * SLOTS, pattern.pauseMs, writeOp);
    const fw = runFio(loop.device, { rw: 'write', bs: SECTOR, loops: pattern.writeLoops, thinktimeUs });
    rounds.write.push({ ...w, ...fw, count: w.count + fw.count });
    const fr = runFio(loop.device, { rw: 'read', bs: ALL_SLOTS_BYTES, loops: pattern.readCount, thinktimeUs });
    const r = await timeEach(device, pattern.readCount, pattern.pauseMs, readOp);
    rounds.read.push({ ...r, ...fr, count: r.count + fr.count });
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

function printTable(pattern: Pattern, figures: { write: Round[]; read: Round[] }): void {
  const ios = (rounds: Round[]): number => rounds.reduce((sum, r) => sum + r.count, 0) / 2;
  console.log(`\n${pattern.name}: ${ios(figures.write)} writes and ${ios(figures.read)} reads on each side`);
  console.log(['operation'.padEnd(24), 'addon p50', 'addon p99', '  fio p50', '  fio p99', '  p50 x', '  (rounds)', '  p99 x',
    'target'.padEnd(14), '   queued', '  syscall', ' delivery', 'sysc. x'].join(' '));
  console.log(row('write 1 sector O_DSYNC', figures.write));
  console.log(row(`read ${SLOTS} slots (${ALL_SLOTS_BYTES / 1024} KiB)`, figures.read));
}

async function measureLag(device: SectorDevice): Promise<{ p99Ms: number; maxMs: number; reads: number }> {
  const lag = monitorEventLoopDelay({ resolution: 1 });
  let reads = 0;
  lag.enable();
  const timer = setInterval(() => {
    void device.read(0, ALL_SLOTS_BYTES).then(() => reads++);
  }, 100);
  await sleep(LAG_SECONDS * 1000);
  clearInterval(timer);
  lag.disable();
  return { p99Ms: lag.percentile(99) / 1e6, maxMs: lag.max / 1e6, reads };
}

async function bench(loop: LoopDevice): Promise<void> {
  const device = await SectorDevice.open(loop.device);
  try {
    // Warm-up: threads, caches, the backing file's blocks.
    await timeEach(device, 2 * SLOTS, 0, (i) => device.write((i % SLOTS) * SECTOR, Buffer.alloc(SECTOR)));
    await timeEach(device, 200, 0, () => device.read(0, ALL_SLOTS_BYTES));
    runFio(loop.device, { rw: 'read', bs: ALL_SLOTS_BYTES, loops: 200, thinktimeUs: 0 });
    const backToBack = await measure(device, loop, BACK_TO_BACK);
    const paced = await measure(device, loop, PACED);
    // The hand-off floor: a call that does no I/O (a loop device refuses block PR at once)
    // still crosses to the I/O thread and back.
    const floor = await timeEach(device, BACK_TO_BACK.readCount, 0, () => device.blockPr({ op: 'clear', oldKey: 1n }));
    const lag = await measureLag(device);
    const [load1] = loadavg();
    console.log(`ycs disk benchmark on ${loop.device} (loop, 64 MiB sparse file, ${SECTOR} B sectors, ` +
      `${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, node ${process.version}, ${cpus().length} CPUs, load ${load1?.toFixed(1)}, nice -10)`);
    console.log(`latency in microseconds, median over ${ROUNDS} alternating rounds; p50 x = addon p50 / fio p50, the median ` +
      `of the per-round ratios and their range (target <= ${TARGET_RATIO})`);
    console.log('addon = end to end in JS (call -> I/O thread -> syscall -> promise settled); fio = clat of the same pread/pwrite');
    console.log('diagnostics (p50 on the addon side): queued = hand-off to the I/O thread, syscall = the I/O timed on the I/O ' +
      'thread, delivery = hand-off back to JS; sysc. x = syscall / fio p50');
    printTable(BACK_TO_BACK, backToBack);
    printTable(PACED, paced);
    console.log(`\nhand-off floor (a call with no I/O, to the I/O thread and back): p50 ${floor.addonP50Us.toFixed(1)} us, ` +
      `p99 ${floor.addonP99Us.toFixed(1)} us`);
    console.log(`event-loop lag while reading ${SLOTS} slots every 100 ms for ${LAG_SECONDS} s: ` +
      `p99 ${lag.p99Ms.toFixed(2)} ms, max ${lag.maxMs.toFixed(2)} ms (${lag.reads} reads)`);
  } finally {
    await device.close();
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
