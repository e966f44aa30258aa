// The io_uring engine's life around the I/O itself, in child processes:
// - where the kernel refuses io_uring (kernel.io_uring_disabled, a container's seccomp
//   filter), a device falls back to its I/O thread by itself and works the same. Made
//   real with kernel.io_uring_disabled=1, which refuses rings to processes without
//   CAP_SYS_ADMIN: the child drops it, while the other tests (root, all capabilities) go
//   on using io_uring meanwhile;
// - a process that exits with I/O in flight, or drops devices without closing them, ends
//   cleanly: no crash in the environment's teardown or the garbage collector, and an
//   idle device does not keep the process alive.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt } from '../helpers/cli.js';
import { createLoop, scratchDir, type LoopDevice } from '../helpers/loop.js';

const SYSCTL = '/proc/sys/kernel/io_uring_disabled';

const DEVICE_JS = JSON.stringify(join(ROOT, 'dist', 'src', 'disk', 'device.js'));

const CHILD = `
const { SectorDevice } = await import(${DEVICE_JS});
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

describe('a process that leaves devices behind', () => {
  let scratch: { dir: string; remove(): void };
  let loop: LoopDevice;

  beforeAll(() => {
    ensureBuilt();
    scratch = scratchDir('ycs-teardown-');
    loop = createLoop(scratch.dir, 1024 * 1024);
  });

  afterAll(() => {
    loop.detach();
    scratch.remove();
  });

  function run(script: string, ...flags: string[]): { status: number | null; stdout: string; stderr: string } {
    const child = spawnSync(process.execPath, [...flags, '--input-type=module', '-e',
      `const { SectorDevice } = await import(${DEVICE_JS});\n${script}`, loop.device], { encoding: 'utf8', timeout: 20_000 });
    return { status: child.status, stdout: child.stdout, stderr: child.stderr };
  }

  it('exits at once with I/O in flight on the ring', () => {
    const child = run(`
      const device = await SectorDevice.open(process.argv[1]);
      if (device.info.ioEngine !== 'io_uring') throw new Error('expected io_uring');
      void device.write(0, Buffer.alloc(512, 1));
      void device.read(0, 4096);
      process.exit(0);`);
    expect(child).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('exits by itself when devices were used and never closed', () => {
    const child = run(`
      const device = await SectorDevice.open(process.argv[1]);
      await device.write(512, Buffer.alloc(512, 2));
      console.log((await device.read(512, 512))[0]);`);
    expect(child).toEqual({ status: 0, stdout: '2\n', stderr: '' });
  });

  it('survives devices collected as garbage without close(), in use a moment before', () => {
    const child = run(`
      const { setTimeout: sleep } = await import('node:timers/promises');
      for (let i = 0; i < 20; i++) {
        const device = await SectorDevice.open(process.argv[1]);
        void device.read(0, 4096);
        await device.read(4096, 512);
      }
      for (let i = 0; i < 5; i++) { globalThis.gc(); await sleep(20); }
      const device = await SectorDevice.open(process.argv[1]);
      console.log((await device.read(512, 512)).length);
      await device.close();`, '--expose-gc');
    expect(child).toEqual({ status: 0, stdout: '512\n', stderr: '' });
  });
});
