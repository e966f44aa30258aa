// ycsm speaks systemd's notification protocol (Type=notify in packaging/ycsm.service):
// with NOTIFY_SOCKET and WATCHDOG_USEC set as systemd sets them, a real ycsm -> ycs on a
// three-host local cluster sends READY=1 once ycs has joined (and not before), STATUS=
// lines with ycs's role, WATCHDOG=1 at half the period, and STOPPING=1 on SIGTERM. The
// receiving end is a Unix datagram socket the test binds (python3: Node has none).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCluster, type LocalCluster } from '../../src/demo/cluster.js';
import { scratchDir } from '../helpers/loop.js';

let scratch: ReturnType<typeof scratchDir>;
let listener: ChildProcess | undefined;
let cluster: LocalCluster | undefined;
let socketPath = '';
let logPath = '';

const LISTEN = `
import socket, sys, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], 'a', buffering=1)
while True:
    out.write(json.dumps(s.recv(4096).decode()) + '\\n')
`;

function received(): string[] {
  return existsSync(logPath) ? readFileSync(logPath, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string) : [];
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received: ${JSON.stringify(received())}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  scratch = scratchDir('ycs-systemd-');
  socketPath = join(scratch.dir, 'notify.sock');
  logPath = join(scratch.dir, 'notify.log');
  listener = spawn('python3', ['-c', LISTEN, socketPath, logPath], { stdio: 'ignore' });
  await until('the notify socket', () => existsSync(socketPath), 5_000);
  cluster = await startLocalCluster({
    dir: join(scratch.dir, 'cluster'),
    hosts: 3,
    resources: ['YasDB'],
    hostEnv: (h): Record<string, string> => (h === 1 ? { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '1000000' } : {}),
  });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  listener?.kill('SIGKILL');
  scratch?.remove();
}, 60_000);

describe('ycsm and systemd (Type=notify, WatchdogSec)', () => {
  it('READY=1 only once ycs joined, STATUS with the role, WATCHDOG=1 at half the period, STOPPING=1 on SIGTERM', async () => {
    await until('READY=1', () => received().some((m) => m.startsWith('READY=1')), 30_000);
    const messages = received();
    const ready = messages.findIndex((m) => m.startsWith('READY=1'));
    expect(messages[0]).toBe('STATUS=ycs: starting ycs');
    expect(messages[ready]).toMatch(/^READY=1\nSTATUS=ycs: (standby|master)$/);
    expect(messages.slice(0, ready).filter((m) => m.includes('READY'))).toEqual([]);
    expect(messages.slice(0, ready).some((m) => m === 'STATUS=ycs: starting')).toBe(true); // ycs said starting before it joined
    const watchdogsBefore = received().filter((m) => m === 'WATCHDOG=1').length;
    await sleep(2_100);
    const watchdogs = received().filter((m) => m === 'WATCHDOG=1').length - watchdogsBefore;
    expect(watchdogs).toBeGreaterThanOrEqual(3); // every 500 ms for a 1 s WatchdogSec
    expect(watchdogs).toBeLessThanOrEqual(6);
    await cluster!.stopHost(1);
    expect(received()).toContain('STOPPING=1\nSTATUS=ycs: stopping');
  }, 60_000);
});
