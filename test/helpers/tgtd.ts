// A real iSCSI target for tests: tgtd (Debian package `tgt`) on 127.0.0.1, on a free
// portal port and its own control port (so several can run at once), exporting one
// sparse file as LUN 1 to every initiator. Stop it in afterAll/afterEach; it is also
// killed when the test process exits.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sparseFile } from './loop.js';
import { freeTcpPort as freePort } from '../../src/demo/ports.js';

export interface TgtdSession {
  sid: number;
  initiator: string;
}

export interface Tgtd {
  port: number;
  controlPort: number;
  targetIqn: string;
  backingFile: string;
  /** iscsi://127.0.0.1:PORT/IQN/LUN */
  url(lun?: number): string;
  sessions(): TgtdSession[];
  /** Closes the target side of every connection of `initiatorIqn` (forces a reconnect). */
  dropConnections(initiatorIqn: string): number;
  stop(): Promise<void>;
}

export interface TgtdOptions {
  dir: string;
  sizeBytes?: number;
  blockSize?: 512 | 4096;
  targetIqn?: string;
}

const running = new Set<ChildProcess>();

function tgtadm(controlPort: number, args: string[]): string {
  return execFileSync('tgtadm', ['-C', String(controlPort), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function controlPortInUse(controlPort: number): boolean {
  try {
    tgtadm(controlPort, ['--op', 'show', '--mode', 'system']);
    return true;
  } catch {
    return false;
  }
}

async function pickControlPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const candidate = 1000 + Math.floor(Math.random() * 30000); // tgtd accepts -C up to 32767
    if (!controlPortInUse(candidate)) return candidate;
  }
  throw new Error('no free tgtd control port found');
}

async function waitReady(child: ChildProcess, controlPort: number, logFile: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`tgtd exited early (${child.exitCode ?? child.signalCode}): ${readFileSync(logFile, 'utf8')}`);
    }
    if (controlPortInUse(controlPort)) return;
    await sleep(50);
  }
  throw new Error(`tgtd did not answer on control port ${controlPort} within 5 s`);
}

async function stopProcess(child: ChildProcess, controlPort: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    // SIGTERM is ignored while a target is configured, and "delete system" is refused
    // until no target is left: delete the target (closing its sessions), then the system.
    tgtadm(controlPort, ['--lld', 'iscsi', '--op', 'delete', '--mode', 'target', '--tid', '1', '--force']);
    tgtadm(controlPort, ['--op', 'delete', '--mode', 'system']);
  } catch {
    // fall through to SIGKILL
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

function configureTarget(controlPort: number, targetIqn: string, backingFile: string, blockSize: number): void {
  const iscsi = ['--lld', 'iscsi'];
  tgtadm(controlPort, [...iscsi, '--op', 'new', '--mode', 'target', '--tid', '1', '-T', targetIqn]);
  tgtadm(controlPort, [
    ...iscsi, '--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '1', '-b', backingFile,
    '--blocksize', String(blockSize),
  ]);
  tgtadm(controlPort, [...iscsi, '--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL']);
}

function parseSessions(text: string): TgtdSession[] {
  const sessions: TgtdSession[] = [];
  let sid = -1;
  for (const line of text.split('\n')) {
    const session = /^\s*Session:\s*(\d+)/.exec(line);
    if (session) sid = Number(session[1]);
    const initiator = /^\s*Initiator:\s*(\S+)/.exec(line);
    if (initiator && sid >= 0) sessions.push({ sid, initiator: initiator[1] ?? '' });
  }
  return sessions;
}

export async function startTgtd(options: TgtdOptions): Promise<Tgtd> {
  const targetIqn = options.targetIqn ?? 'iqn.2026-11.io.ycs.test:lun';
  const backingFile = sparseFile(join(options.dir, `tgtd-lun-${Date.now()}.img`), options.sizeBytes ?? 16 << 20);
  const port = await freePort();
  const controlPort = await pickControlPort();
  const logFile = join(options.dir, `tgtd-${controlPort}.log`);
  const logFd = openSync(logFile, 'a');
  const child = spawn('tgtd', ['-f', '--iscsi', `portal=127.0.0.1:${port}`, '-C', String(controlPort)], {
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  running.add(child);
  child.once('exit', () => running.delete(child));
  try {
    await waitReady(child, controlPort, logFile);
    configureTarget(controlPort, targetIqn, backingFile, options.blockSize ?? 512);
  } catch (err) {
    await stopProcess(child, controlPort);
    throw err;
  }
  const sessions = (): TgtdSession[] =>
    parseSessions(tgtadm(controlPort, ['--lld', 'iscsi', '--op', 'show', '--mode', 'conn', '--tid', '1']));
  return {
    port,
    controlPort,
    targetIqn,
    backingFile,
    url: (lun = 1) => `iscsi://127.0.0.1:${port}/${targetIqn}/${lun}`,
    sessions,
    dropConnections(initiatorIqn) {
      const victims = sessions().filter((s) => s.initiator === initiatorIqn);
      for (const s of victims) {
        tgtadm(controlPort, ['--lld', 'iscsi', '--op', 'delete', '--mode', 'conn', '--tid', '1', '--sid', String(s.sid), '--cid', '0']);
      }
      return victims.length;
    },
    stop: () => stopProcess(child, controlPort),
  };
}

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
