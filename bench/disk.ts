// npm run bench:disk (root): latency of voting-disk I/O through the addon beside fio
// doing the same I/O on the same loop device, and the event-loop lag while all host slots
// are read every 100 ms.
//
// Addon latency is end to end as TypeScript sees it (call -> I/O thread -> pwrite/pread ->
// thread-safe function -> promise settled); fio's is its completion latency (clat) of the
// same syscall with ioengine=psync, direct=1, sync=1, same block size, offsets and count.
import { execFileSync, spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { SectorDevice } from '../src/disk/device.js';
import { attachLoop, scratchDir, sparseFile, type LoopDevice } from '../test/helpers/loop.js';

const MiB = 1024 * 1024;
const SECTOR = 512;
const SLOTS = 64;
const ALL_SLOTS_BYTES = SLOTS * SECTOR; // one read returns every host's heartbeat
const WRITE_LOOPS = 16; // x 64 one-sector writes over the slot area
const READ_COUNT = 2000;
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

async function timeEach(count: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await op(i);
    samples.push(Number(process.hrtime.bigint() - start));
  }
  return samples;
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

function row(name: string, addon: Percentiles, fio: Percentiles): string {
  const ratio = addon.p50Us / fio.p50Us;
  const verdict = ratio <= TARGET_RATIO ? 'ok' : `above ${TARGET_RATIO}`;
  return [
    name.padEnd(28),
    `${addon.p50Us.toFixed(1)}`.padStart(9), `${addon.p99Us.toFixed(1)}`.padStart(9),
    `${fio.p50Us.toFixed(1)}`.padStart(9), `${fio.p99Us.toFixed(1)}`.padStart(9),
    `${ratio.toFixed(2)}`.padStart(7), `${(addon.p99Us / fio.p99Us).toFixed(2)}`.padStart(7),
    `${addon.count}/${fio.count}`.padStart(11), `  ${verdict}`,
  ].join(' ');
}

async function bench(loop: LoopDevice): Promise<void> {
  const device = await SectorDevice.open(loop.device);
  try {
    const sector = Buffer.alloc(SECTOR, 0xa5);
    const writeCount = WRITE_LOOPS * SLOTS;
    const writeOp = (i: number): Promise<void> => device.write((i % SLOTS) * SECTOR, sector);
    const readOp = (): Promise<Buffer> => device.read(0, ALL_SLOTS_BYTES);
    await timeEach(SLOTS, writeOp); // warm-up: threads, caches, allocation of the backing file
    await timeEach(200, readOp);
    runFio(loop.device, { rw: 'read', bs: ALL_SLOTS_BYTES, size: ALL_SLOTS_BYTES, loops: 200 });

    // Alternate addon and fio so that drift on a shared machine hits both alike.
    const addonWrite = percentiles(await timeEach(writeCount, writeOp));
    const fioWrite = runFio(loop.device, { rw: 'write', bs: SECTOR, size: ALL_SLOTS_BYTES, loops: WRITE_LOOPS });
    const fioRead = runFio(loop.device, { rw: 'read', bs: ALL_SLOTS_BYTES, size: ALL_SLOTS_BYTES, loops: READ_COUNT });
    const addonRead = percentiles(await timeEach(READ_COUNT, readOp));
    const lag = await measureLag(device);

    console.log(`ycs disk benchmark on ${loop.device} (loop, 64 MiB sparse file, ${SECTOR} B sectors, ` +
      `${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}, node ${process.version})`);
    console.log('latency in microseconds; ratio = addon / fio (target at p50: <= 1.15)');
    console.log(['operation'.padEnd(28), 'addon p50', 'addon p99', '  fio p50', '  fio p99', 'p50 x', 'p99 x', ' ios a/f'].join(' '));
    console.log(row('write 1 sector O_DSYNC', addonWrite, fioWrite));
    console.log(row(`read ${SLOTS} slots (${ALL_SLOTS_BYTES / 1024} KiB)`, addonRead, fioRead));
    console.log(`event-loop lag while reading ${SLOTS} slots every 100 ms for ${LAG_SECONDS} s: ` +
      `p99 ${lag.p99Ms.toFixed(2)} ms, max ${lag.maxMs.toFixed(2)} ms (${lag.reads} reads)`);
  } finally {
    await device.close();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:disk needs root (it attaches a loop device)');
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
