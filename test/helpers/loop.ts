// Real loop devices for tests: a sparse backing file attached with losetup, detached
// afterwards (also when the test fails: register `detach` in afterEach/afterAll).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoopDevice {
  device: string;      // e.g. /dev/loop3
  backingFile: string;
  sectorSize: 512 | 4096;
  detach(): void;
}

const attached = new Set<LoopDevice>();

/** A scratch directory removed by the returned cleanup. */
export function scratchDir(prefix = 'ycs-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A sparse regular file of `sizeBytes`. */
export function sparseFile(path: string, sizeBytes: number): string {
  writeFileSync(path, '');
  truncateSync(path, sizeBytes);
  return path;
}

export function attachLoop(backingFile: string, sectorSize: 512 | 4096 = 512, opts: { directIo?: boolean } = {}): LoopDevice {
  const args = ['-f', '--show', '--sector-size', String(sectorSize)];
  if (opts.directIo) args.push('--direct-io=on');
  args.push(backingFile);
  const device = execFileSync('losetup', args, { encoding: 'utf8' }).trim();
  const loop: LoopDevice = {
    device,
    backingFile,
    sectorSize,
    detach() {
      if (!attached.delete(loop)) return;
      try {
        execFileSync('losetup', ['-d', device], { stdio: 'ignore' });
      } catch {
        // already detached
      }
    },
  };
  attached.add(loop);
  return loop;
}

/** Creates a sparse file of `sizeBytes` in `dir` and attaches it. */
export function createLoop(dir: string, sizeBytes: number, sectorSize: 512 | 4096 = 512): LoopDevice {
  const file = sparseFile(join(dir, `disk-${sectorSize}-${attached.size}-${Date.now()}.img`), sizeBytes);
  return attachLoop(file, sectorSize);
}

/** Detaches every loop device this process attached. Safe to call twice. */
export function detachAll(): void {
  for (const loop of [...attached]) loop.detach();
}

process.once('exit', detachAll);
