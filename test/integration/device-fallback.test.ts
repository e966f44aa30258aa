// Where the kernel refuses io_uring (kernel.io_uring_disabled, a container's seccomp
// filter), a device falls back to its I/O thread by itself and works the same. Made real
// here with kernel.io_uring_disabled=1, which refuses rings to processes without
// CAP_SYS_ADMIN: the child drops it, while the other tests (root, all capabilities) go on
// using io_uring meanwhile.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt } from '../helpers/cli.js';
import { createLoop, scratchDir, type LoopDevice } from '../helpers/loop.js';

const SYSCTL = '/proc/sys/kernel/io_uring_disabled';

const CHILD = `
const { SectorDevice } = await import(${JSON.stringify(join(ROOT, 'dist', 'src', 'disk', 'device.js'))});
const device = await SectorDevice.open(process.argv[1]);
await device.write(4096, Buffer.alloc(512, 7));
const back = await device.read(4096, 512);
console.log(JSON.stringify({ ioEngine: device.info.ioEngine, byte: back[0] }));
await device.close();
`;

describe('a kernel that refuses io_uring', () => {
  let scratch: { dir: string; remove(): void };
  let loop: LoopDevice;
  let before: string;

  beforeAll(() => {
    ensureBuilt();
    scratch = scratchDir('ycs-fallback-');
    loop = createLoop(scratch.dir, 1024 * 1024);
    expect(existsSync(SYSCTL), `${SYSCTL} (Linux 6.6 or later) is needed for this test`).toBe(true);
    before = readFileSync(SYSCTL, 'utf8').trim();
  });

  afterAll(() => {
    writeFileSync(SYSCTL, `${before}\n`);
    loop.detach();
    scratch.remove();
  });

  function runChild(): { ioEngine: string; byte: number } {
    const run = spawnSync('setpriv', ['--bounding-set=-sys_admin', '--inh-caps=-sys_admin',
      process.execPath, '--input-type=module', '-e', CHILD, loop.device], { encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    return JSON.parse(run.stdout) as { ioEngine: string; byte: number };
  }

  it('uses the I/O thread instead, and reads and writes as before', () => {
    expect(runChild()).toEqual({ ioEngine: 'io_uring', byte: 7 }); // the same child, allowed
    writeFileSync(SYSCTL, '1\n');
    try {
      expect(runChild()).toEqual({ ioEngine: 'thread', byte: 7 });
    } finally {
      writeFileSync(SYSCTL, `${before}\n`);
    }
  });
});
