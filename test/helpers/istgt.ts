// A second, independent iSCSI target for the fencing tests: istgt (Debian package
// `istgt`, the FreeBSD userspace target) on 127.0.0.1, on free portal and control ports,
// exporting one sparse file as LUN 0 to every initiator. It runs in the foreground (-D)
// with its own config file in the test's directory; stop it in afterAll. It is also
// killed when the test process exits.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeTcpPort } from '../../src/demo/ports.js';
import { sparseFile } from './loop.js';

export interface Istgt {
  port: number;
  /** iscsi://127.0.0.1:PORT/IQN/0 */
  url: string;
  stop(): Promise<void>;
}

const NODE_BASE = 'iqn.2026-12.io.ycs.istgt';
const running = new Set<ChildProcess>();

function config(dir: string, port: number, controlPort: number, backingFile: string): string {
  return [
    '[Global]',
    `  NodeBase "${NODE_BASE}"`,
    `  PidFile ${join(dir, 'istgt.pid')}`,
    `  AuthFile ${join(dir, 'istgt-auth.conf')}`,
    `  MediaDirectory ${dir}`,
    '  Timeout 30',
    '  NopInInterval 20',
    '  DiscoveryAuthMethod None',
    '  MaxSessions 16',
    '  MaxConnections 4',
    '[UnitControl]',
    '  AuthMethod None',
    `  Portal UC1 127.0.0.1:${controlPort}`,
    '  Netmask 127.0.0.1',
    '[PortalGroup1]',
    `  Portal DA1 127.0.0.1:${port}`,
    '[InitiatorGroup1]',
    '  InitiatorName "ALL"',
    '  Netmask 127.0.0.0/8',
    '[LogicalUnit1]',
    '  TargetName disk1',
    '  Mapping PortalGroup1 InitiatorGroup1',
    '  AuthMethod None',
    '  UnitType Disk',
    `  LUN0 Storage ${backingFile} Auto`,
    '',
  ].join('\n');
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startIstgt(options: { dir: string; sizeBytes?: number }): Promise<Istgt> {
  const backingFile = sparseFile(join(options.dir, `istgt-lun-${Date.now()}.img`), options.sizeBytes ?? 16 << 20);
  const port = await freeTcpPort();
  const controlPort = await freeTcpPort();
  const configFile = join(options.dir, `istgt-${port}.conf`);
  writeFileSync(join(options.dir, 'istgt-auth.conf'), '[AuthGroup1]\n  Comment "no CHAP"\n');
  writeFileSync(configFile, config(options.dir, port, controlPort, backingFile));
  const logFile = join(options.dir, `istgt-${port}.log`);
  const logFd = openSync(logFile, 'a');
  const child = spawn('istgt', ['-c', configFile, '-D'], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  running.add(child);
  child.once('exit', () => running.delete(child));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 5000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`istgt did not listen on 127.0.0.1:${port} within 5 s: ${readFileSync(logFile, 'utf8')}`);
    }
    await sleep(50);
  }
  return { port, url: `iscsi://127.0.0.1:${port}/${NODE_BASE}:disk1/0`, stop };
}

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
