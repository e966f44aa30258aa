// `ycsctl disk` on an iscsi:// LUN served by a real tgtd on 127.0.0.1 (libiscsi in the
// addon, no kernel initiator): the layout works over READ16/WRITE16 like on a loop device.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '../helpers/loop.js';
import { startTgtd, type Tgtd } from '../helpers/tgtd.js';
import { packageRoot } from '../../src/native.js';

const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const INITIATOR = 'iqn.2026-11.io.ycs.test:disk-cli';

function ycsctl(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let scratch: { dir: string; remove(): void };
let target: Tgtd | undefined;

beforeAll(async () => {
  scratch = scratchDir('ycs-disk-iscsi-');
  target = await startTgtd({ dir: scratch.dir, sizeBytes: 8 << 20, blockSize: 4096 });
});

afterAll(async () => {
  await target?.stop();
  scratch?.remove();
});

describe('ycsctl disk on an iSCSI LUN', () => {
  it('initializes, shows and wipes a 4 KiB-block LUN', () => {
    const url = target!.url();
    const init = ycsctl('disk', 'init', url, '--cluster', 'san', '--hosts', '3', '--initiator', INITIATOR, '--json');
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ header: { clusterName: 'san', sectorSize: 4096, hostSlots: 3 } });
    // The bytes really are on the target's backing file.
    expect(readFileSync(target!.backingFile).subarray(0, 8).toString('latin1')).toBe('YCSVDISK');

    const show = ycsctl('disk', 'show', url, '--initiator', INITIATOR, '--json');
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ device: { kind: 'iscsi', logicalSectorSize: 4096, ioEngine: 'thread' }, header: { clusterName: 'san' } });

    const again = ycsctl('disk', 'init', url, '--cluster', 'san', '--hosts', '3', '--initiator', INITIATOR);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^E_ALREADY_INITIALIZED: /);

    expect(ycsctl('disk', 'wipe', url, '--yes', '--initiator', INITIATOR).code).toBe(0);
    expect(readFileSync(target!.backingFile).subarray(0, 3 << 20).every((b) => b === 0)).toBe(true);
  });
});
