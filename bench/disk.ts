// npm run bench:disk (root): latency of voting-disk I/O through the addon beside fio
// doing the same I/O on the same loop device, and the event-loop lag while all host slots
// are read every 100 ms.
//
// Addon latency is end to end as TypeScript sees it (call -> I/O thread -> pwrite/pread ->
// thread-safe function -> promise settled); fio's is its completion latency (clat) of the
// same syscall with ioengine=psync, direct=1, sync=1, same block size, offsets and count.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, loadavg, setPriority } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { SectorDevice } from '../src/disk/device.js';
import { attachLoop, scratchDir, sparseFile, type LoopDevice } from '../test/helpers/loop.js';

const MiB = 1024 * 1024;
const SECTOR = 512;
const SLOTS = 64;
const ALL_SLOTS_BYTES = SLOTS * SECTOR; // one read returns every host's heartbeat
const ROUNDS = 5; // addon and fio alternate; each figure is the median over the rounds
const WRITE_LOOPS = 4; // per round: 4 x 64 one-sector writes over the slot area
const READ_COUNT = 400; // per round: all-slots reads
const LAG_SECONDS = 5;
const TARGET_RATIO = 1.15;

interface Percentiles {
  p50Us: number;
  p99Us: number;
  count: number;
}

function percentiles(samplesNs: number[]): Percentiles {
  const sorted = [...samplesNs].sort((a, b) => a - b);
  const at = (q: number): number => (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0) / 1000;
  return { p50Us: at(0.5), p99Us: at(0.99), count: sorted.length };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function medianOf(rounds: Percentiles[]): Percentiles {
  return {
    p50Us: median(rounds.map((r) => r.p50Us)),
    p99Us: median(rounds.map((r) => r.p99Us)),
    count: rounds.reduce((sum, r) => sum + r.count, 0),
  };
}

/** End-to-end latency of each call, and the time its syscall took on the I/O thread. */
async function timeEach(device: SectorDevice, count: number, op: (i: number) => Promise<unknown>): Promise<{ total: Percentiles; syscall: Percentiles }> {
  const total: number[] = [];
  const syscall: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await op(i);
    total.push(Number(process.hrtime.bigint() - start));
    syscall.push(device.lastIoNs);
  }
  return { total: percentiles(total), syscall: percentiles(syscall) };
}

interface FioJob {
  rw: 'read' | 'write';
  bs: number;
  size: number;
  loops: number;
}

function runFio(device: string, job: FioJob): Percentiles {
  const args = [
    '--name=ycs-bench', `--filename=${device}`, '--ioengine=psync', '--direct=1', '--sync=1',
    `--rw=${job.rw}`, `--bs=${job.bs}`, '--offset=0', `--size=${job.size}`, `--loops=${job.loops}`,
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
  return { p50Us: (p['50.000000'] ?? 0) / 1000, p99Us: (p['99.000000'] ?? 0) / 1000, count: stats.total_ios };
}

async function measureLag(device: SectorDevice): Promise<{ p99Ms: number; maxMs: number; reads: number }> {
  const lag = monitorEventLoopDelay({ resolution: 1 });
  let reads = 0;
  lag.enable();
  const timer = setInterval(() => {
    void device.read(0, ALL_SLOTS_BYTES).then(() => reads++);
  }, 100);
  await new Promise((resolve) => setTimeout(resolve, LAG_SECONDS * 1000));
  clearInterval(timer);
  lag.disable();
  return { p99Ms: lag.percentile(99) / 1e6, maxMs: lag.max / 1e6, reads };
}

function row(name: string, addon: Percentiles, syscall: Percentiles, fio: Percentiles): string {
  const ratio = addon.p50Us / fio.p50Us;
  const verdict = ratio <= TARGET_RATIO ? 'ok' : `above ${TARGET_RATIO}`;
  return [
    name.padEnd(26),
    ...[addon.p50Us, addon.p99Us, syscall.p50Us, fio.p50Us, fio.p99Us].map((v) => v.toFixed(1).padStart(9)),
    ...[ratio, addon.p99Us / fio.p99Us, syscall.p50Us / fio.p50Us].map((v) => v.toFixed(2).padStart(7)),
    `${addon.count}/${fio.count}`.padStart(10), `  ${verdict}`,
  ].join(' ');
}

interface Figures {
  addon: Percentiles;
  syscall: Percentiles;
  fio: Percentiles;
}

async function measure(device: SectorDevice, loop: LoopDevice): Promise<{ write: Figures; read: Figures }> {
  const sector = Buffer.alloc(SECTOR, 0xa5);
  const writeOp = (i: number): Promise<void> => device.write((i % SLOTS) * SECTOR, sector);
  const readOp = (): Promise<Buffer> => device.read(0, ALL_SLOTS_BYTES);
  // Warm-up: threads, caches, the backing file's blocks.
  await timeEach(device, SLOTS, writeOp);
  await timeEach(device, 200, readOp);
  runFio(loop.device, { rw: 'read', bs: ALL_SLOTS_BYTES, size: ALL_SLOTS_BYTES, loops: 200 });
  const rounds = { aw: [] as Percentiles[], sw: [] as Percentiles[], fw: [] as Percentiles[], ar: [] as Percentiles[], sr: [] as Percentiles[], fr: [] as Percentiles[] };
  // Alternate addon and fio so that drift on a shared machine hits both alike.
  for (let round = 0; round < ROUNDS; round++) {
    const w = await timeEach(device, WRITE_LOOPS * SLOTS, writeOp);
    rounds.aw.push(w.total);
    rounds.sw.push(w.syscall);
    rounds.fw.push(runFio(loop.device, { rw: 'write', bs: SECTOR, size: ALL_SLOTS_BYTES, loops: WRITE_LOOPS }));
    rounds.fr.push(runFio(loop.device, { rw: 'read', bs: ALL_SLOTS_BYTES, size: ALL_SLOTS_BYTES, loops: READ_COUNT }));
    const r = await timeEach(device, READ_COUNT, readOp);
    rounds.ar.push(r.total);
    rounds.sr.push(r.syscall);
  }
  return {
    write: { addon: medianOf(rounds.aw), syscall: medianOf(rounds.sw), fio: medianOf(rounds.fw) },
    read: { addon: medianOf(rounds.ar), syscall: medianOf(rounds.sr), fio: medianOf(rounds.fr) },
  };
}

async function bench(loop: LoopDevice): Promise<void> {
  const device = await SectorDevice.open(loop.device);
  try {
    const { write, read } = await measure(device, loop);
    // The hand-off floor: a call that does no I/O (a loop device refuses block PR at once)
    // still crosses to the I/O thread and back.
    const floor = (await timeEach(device, READ_COUNT, () => device.blockPr({ op: 'clear', oldKey: 1n }))).total;
    const lag = await measureLag(device);
    const [load1] = loadavg();
    console.log(`ycs disk benchmark on ${loop.device} (loop, 64 MiB sparse file, ${SECTOR} B sectors, ` +
      `${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, node ${process.version}, ${cpus().length} CPUs, load ${load1?.toFixed(1)}, nice -10)`);
    console.log(`latency in microseconds, median over ${ROUNDS} alternating rounds; ratio = addon / fio (target at p50: <= ${TARGET_RATIO})`);
    console.log('addon = end to end in JS (call -> I/O thread -> syscall -> promise); syscall = the same I/O timed on the I/O thread');
    console.log(['operation'.padEnd(26), 'addon p50', 'addon p99', 'sysc. p50', '  fio p50', '  fio p99', '  p50 x', '  p99 x', 'sysc. x', ' ios a/f'].join(' '));
    console.log(row('write 1 sector O_DSYNC', write.addon, write.syscall, write.fio));
    console.log(row(`read ${SLOTS} slots (${ALL_SLOTS_BYTES / 1024} KiB)`, read.addon, read.syscall, read.fio));
    console.log(`hand-off floor (a call with no I/O, to the I/O thread and back): p50 ${floor.p50Us.toFixed(1)} us, p99 ${floor.p99Us.toFixed(1)} us`);
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
