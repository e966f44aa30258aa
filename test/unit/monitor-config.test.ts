// ycsm reads DISK_HB_KEEP_ALIVE the way the daemon does (src/config/ keepAliveOf):
// optional, with the default of src/core/timeouts.ts, the same range and the same errors.
// Real config files in a scratch directory; the daemon's own loader is the reference.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_BASE_TIMEOUTS } from '../../src/core/timeouts.js';
import { keepAliveOf, loadConfig } from '../../src/config/index.js';
import { toYcsError } from '../../src/errors.js';
import { parseMonitorArgs } from '../../src/monitor/main.js';
import { scratchDir } from '../helpers/loop.js';

let scratch: { dir: string; remove(): void };

beforeEach(() => {
  scratch = scratchDir('ycs-monitor-config-');
});

afterEach(() => {
  scratch.remove();
});

/** A complete, valid daemon config (one host, one file-backed voting disk) plus `extra`. */
function writeConfig(extra: Record<string, unknown>): string {
  const disk = join(scratch.dir, 'vote.img');
  writeFileSync(disk, Buffer.alloc(4096));
  writeFileSync(join(scratch.dir, 'key'), 'secret\n');
  const path = join(scratch.dir, 'ycs.json');
  const config = {
    cluster: 'monitor-test',
    hostId: 1,
    hosts: [{ id: 1, address: '127.0.0.1', port: 7001 }],
    votingDisks: [disk],
    keyFile: 'key',
    ...extra,
  };
  writeFileSync(path, JSON.stringify(config));
  return path;
}

function monitorError(path: string): string {
  try {
    parseMonitorArgs(['--config', path], {});
  } catch (err) {
    return toYcsError(err).toLine();
  }
  throw new Error('parseMonitorArgs accepted the config');
}

describe('ycsm and DISK_HB_KEEP_ALIVE', () => {
  it('accepts a config without DISK_HB_KEEP_ALIVE and uses the daemon\'s default', () => {
    const path = writeConfig({});
    const monitor = parseMonitorArgs(['--config', path], {});
    expect(monitor.settings.keepaliveMs).toBe(DEFAULT_BASE_TIMEOUTS.diskHbKeepAliveMs);
    expect(monitor.settings.keepaliveMs).toBe(loadConfig(path).DISK_HB_KEEP_ALIVE);
    expect(monitor.args).toEqual(expect.arrayContaining(['--config', path]));
  });

  it('uses the configured value, the same one the daemon uses', () => {
    const path = writeConfig({ DISK_HB_KEEP_ALIVE: 3500 });
    expect(parseMonitorArgs(['--config', path], {}).settings.keepaliveMs).toBe(3500);
    expect(loadConfig(path).DISK_HB_KEEP_ALIVE).toBe(3500);
  });

  it('--keepalive-ms overrides the config', () => {
    const path = writeConfig({ DISK_HB_KEEP_ALIVE: 3500 });
    expect(parseMonitorArgs(['--config', path, '--keepalive-ms', '700'], {}).settings.keepaliveMs).toBe(700);
  });

  it('reads only the keep-alive: a config ycs would refuse for other reasons still starts ycsm', () => {
    const path = join(scratch.dir, 'partial.json');
    writeFileSync(path, JSON.stringify({ DISK_HB_KEEP_ALIVE: 900, votingDisks: ['/nonexistent/disk'] }));
    expect(keepAliveOf(path)).toBe(900);
    writeFileSync(path, '{}');
    expect(keepAliveOf(path)).toBe(DEFAULT_BASE_TIMEOUTS.diskHbKeepAliveMs);
  });

  it('refuses a keep-alive the daemon refuses, with the daemon\'s one-line error', () => {
    const path = writeConfig({ DISK_HB_KEEP_ALIVE: 'soon' });
    expect(monitorError(path)).toBe(`E_CONFIG: ${path}: DISK_HB_KEEP_ALIVE: must be an integer, got "soon"`);
    writeConfig({ DISK_HB_KEEP_ALIVE: 100 });
    expect(monitorError(path)).toBe(`E_CONFIG: ${path}: DISK_HB_KEEP_ALIVE: must be in 500..600000, got 100`);
    expect(() => loadConfig(path)).toThrow(/DISK_HB_KEEP_ALIVE: must be in 500\.\.600000, got 100/);
  });

  it('refuses a missing or unparsable file with one E_CONFIG line', () => {
    expect(monitorError(join(scratch.dir, 'missing.json'))).toMatch(/^E_CONFIG: \S+missing\.json: \(file\): cannot be read \(ENOENT\)$/);
    const path = join(scratch.dir, 'list.json');
    writeFileSync(path, '[1]');
    expect(monitorError(path)).toBe(`E_CONFIG: ${path}: (file): must be an object`);
  });
});
