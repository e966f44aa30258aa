// A block device whose I/O really hangs in the kernel on demand: a loop device over a
// file on a bindfs (FUSE) mount that the test controls. SIGSTOP of the bindfs process
// leaves every request to the file waiting in the kernel (the loop worker, and behind it
// the I/O submitter, in D state) until SIGCONT.
//
// bindfs runs with -o direct_io so that reads and writes reach the FUSE daemon instead
// of being answered or absorbed by the page cache of the backing file.
//
// Teardown order matters: SIGCONT first (a loop device with stuck I/O cannot be
// detached and a FUSE mount with a stopped daemon cannot be unmounted cleanly), then
// detach the loop device, unmount, and stop bindfs.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachLoop, scratchDir, sparseFile, type LoopDevice } from './loop.js';

export interface FuseStall {
  /** The FUSE mount point; files created here go through bindfs. */
  mountDir: string;
  /** Loop device over `mountDir/disk.img`. */
  loop: LoopDevice;
  bindfsPid: number;
  /** SIGSTOP bindfs: I/O on `loop` now hangs in the kernel. */
  stall(): void;
  /** SIGCONT bindfs: the hung I/O completes. */
  resume(): void;
  /** Safe to call twice, also after a failed set-up step. */
  teardown(): Promise<void>;
}

const live = new Set<FuseStall>();

function isMounted(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === dir && line.includes(' - fuse'));
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // best effort: teardown continues with the next step
  }
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) quietly(() => process.kill(child.pid!, sig));
}

export async function createFuseStall(sizeBytes: number, sectorSize: 512 | 4096 = 512): Promise<FuseStall> {
  const scratch = scratchDir('ycs-fuse-');
  const sourceDir = join(scratch.dir, 'source');
  const mountDir = join(scratch.dir, 'mnt');
  mkdirSync(sourceDir);
  mkdirSync(mountDir);
  const bindfs = spawn('bindfs', ['-f', '-o', 'direct_io', sourceDir, mountDir], { stdio: 'ignore' });
  let loop: LoopDevice | undefined;
  let tornDown = false;
  const exited = new Promise<void>((resolve) => bindfs.once('exit', () => resolve()));

  const teardownSync = (): void => {
    signal(bindfs, 'SIGCONT');
    loop?.detach();
    if (isMounted(mountDir)) {
      quietly(() => execFileSync('fusermount', ['-u', mountDir], { stdio: 'ignore' }));
      if (isMounted(mountDir)) quietly(() => execFileSync('umount', ['-l', mountDir], { stdio: 'ignore' }));
    }
    signal(bindfs, 'SIGTERM');
  };
  const onExit = (): void => teardownSync();
  process.once('exit', onExit);

  const stall: FuseStall = {
    mountDir,
    get loop(): LoopDevice {
      if (loop === undefined) throw new Error('loop device not attached');
      return loop;
    },
    bindfsPid: bindfs.pid ?? -1,
    stall: () => signal(bindfs, 'SIGSTOP'),
    resume: () => signal(bindfs, 'SIGCONT'),
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      live.delete(stall);
      teardownSync();
      process.removeListener('exit', onExit);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
      signal(bindfs, 'SIGKILL');
      scratch.remove();
    },
  };
  live.add(stall);
  try {
    await waitFor(() => isMounted(mountDir), `bindfs to mount ${mountDir}`);
    loop = attachLoop(sparseFile(join(mountDir, 'disk.img'), sizeBytes), sectorSize);
  } catch (err) {
    await stall.teardown();
    throw err;
  }
  return stall;
}

/** Tears down every FUSE stall set up in this process (for afterAll/afterEach). */
export async function teardownAllFuseStalls(): Promise<void> {
  await Promise.all([...live].map((s) => s.teardown()));
}
