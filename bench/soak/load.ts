// The saturating load of the soak: stress-ng (Debian's) with CPU workers on every core,
// a memory-allocation worker and fsync-heavy writes to a file of its own (not the voting
// disk) in the soak's scratch directory, in its own process group so that one signal
// ends all of its workers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

export interface LoadOptions {
  dir: string;
  seconds: number;
}

export interface Load {
  /** The stress-ng command line, for the report. */
  command: string;
  /** Whether stress-ng is still running (it must run for the whole soak). */
  running(): boolean;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

export function stressNgAvailable(): boolean {
  return spawnSync('stress-ng', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function stressArgs(dir: string, seconds: number): string[] {
  return [
    '--cpu', String(cpus().length), '--cpu-load', '100', // every core busy
    '--vm', '1', '--vm-bytes', '256M', '--vm-keep', // allocation and page touching
    '--hdd', '1', '--hdd-bytes', '64M', '--hdd-opts', 'dsync', '--hdd-write-size', '4K', // 4 KiB writes, each synchronous (O_DSYNC)
    '--io', '1', // sync() in a loop: flushes every dirty page of the machine
    '--temp-path', dir,
    '--timeout', `${seconds}s`,
    '--metrics-brief',
  ];
}

export function startLoad(opts: LoadOptions): Load {
  const dir = join(opts.dir, 'stress');
  mkdirSync(dir, { recursive: true });
  // Outlives the soak by a margin only in case stop() is never reached; stop() ends it.
  const args = stressArgs(dir, opts.seconds + 30);
  const log = openSync(join(opts.dir, 'stress-ng.log'), 'a');
  const child = spawn('stress-ng', args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.on('error', () => undefined);
  return {
    command: `stress-ng ${args.join(' ')}`,
    running: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      killGroup(child.pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child.pid ?? 0, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      killGroup(child.pid, 'SIGKILL'); // any worker left behind
    },
  };
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // gone
  }
}

process.once('exit', () => {
  for (const child of running) if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
});
