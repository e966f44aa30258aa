// The Debian package (scripts/package-deb.sh, `npm run package:deb`): built from this
// checkout, installed with dpkg on this machine, and run: the programs in /usr/bin, the
// `ycs` group, the unit in /lib/systemd/system; then ycsm is started with the unit's own
// ExecStart line (its --config pointed at a one-host cluster on a file voting disk in the
// test's directory), `ycsctl status` shows the host master, and the package is purged.
// Needs root. Runs `npm run build` output (dist/, build/Release).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/demo/cluster.js';
import { scratchDir } from '../helpers/loop.js';

const scratch = scratchDir('ycs-deb-');
let ycsm: ChildProcess | undefined;

afterAll(async () => {
  if (ycsm?.pid !== undefined) {
    try {
      process.kill(-ycsm.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  execFileSync('dpkg', ['--purge', 'ycs'], { stdio: 'ignore' });
  scratch.remove();
}, 60_000);

const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('Debian package', () => {
  it('builds, installs, runs ycsm from the unit ExecStart, answers ycsctl status, and purges', async () => {
    const deb = run('bash', [join(REPO_ROOT, 'scripts/package-deb.sh'), join(scratch.dir, 'out')]).trim().split('\n').at(-1)!;
    expect(deb).toMatch(/ycs_\d+\.\d+\.\d+_\w+\.deb$/);
    expect(run('dpkg-deb', ['-f', deb, 'Package', 'Depends'])).toMatch(/Package: ycs\nDepends: nodejs \(>= 20\)/);
    run('dpkg', ['-i', deb]);
    expect(run('dpkg-query', ['-W', '-f', '${Status}', 'ycs'])).toBe('install ok installed');
    expect(run('getent', ['group', 'ycs'])).toMatch(/^ycs:/);
    expect(run('/usr/bin/ycsctl', ['--version']).trim()).toMatch(/\d+\.\d+\.\d+/);
    const unit = readFileSync('/lib/systemd/system/ycsm.service', 'utf8');
    expect(unit).toMatch(/^Type=notify$/m);
    expect(unit).toMatch(/^WatchdogSec=\d+$/m);
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1]?.split(' ') ?? [];
    expect(execStart.slice(0, 2)).toEqual(['/usr/bin/ycsm', '--config']);
    // A one-host cluster in the test's directory.
    const disk = join(scratch.dir, 'vote.img');
    writeFileSync(disk, '');
    truncateSync(disk, 16 << 20);
    run('/usr/bin/ycsctl', ['disk', 'init', disk, '--cluster', 'deb', '--hosts', '4']);
    writeFileSync(join(scratch.dir, 'cluster.key'), Buffer.alloc(32, 7), { mode: 0o600 });
    const socket = join(scratch.dir, 'ycs.sock');
    const config = join(scratch.dir, 'ycs.json');
    writeFileSync(config, JSON.stringify({
      cluster: 'deb', hostId: 1, hosts: [{ id: 1, address: '127.0.0.1', port: 17_901 }], votingDisks: [disk],
      keyFile: join(scratch.dir, 'cluster.key'), controlSocket: socket, controlGroup: 'ycs', runDir: join(scratch.dir, 'run'),
    }));
    const [command, ...args] = execStart;
    ycsm = spawn(command!, [...args.slice(0, 1), config], { detached: true, stdio: 'ignore' });
    let status: { role?: string; masterId?: number } = {};
    for (let i = 0; i < 150 && status.role !== 'master'; i++) {
      await sleep(100);
      try {
        status = JSON.parse(run('/usr/bin/ycsctl', ['status', '--socket', socket, '--json'])) as typeof status;
      } catch {
        // not up yet
      }
    }
    expect(status).toMatchObject({ role: 'master', masterId: 1 });
    const table = run('/usr/bin/ycsctl', ['status', '--socket', socket]);
    expect(table).toContain('Self Host ID|Cluster Master ID');
    process.kill(ycsm.pid!, 'SIGTERM');
    await new Promise<void>((resolve) => ycsm!.once('exit', () => resolve()));
    expect(ycsm.exitCode).toBe(0);
  }, 120_000);
});
