import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, checkConfig, loadConfig, lookupGroupId, parseConfig } from '../../src/config/index.js';
import { isYcsError } from '../../src/errors.js';
import { scratchDir } from '../helpers/loop.js';

let scratch: ReturnType<typeof scratchDir>;
let file: string;

beforeEach(() => {
  scratch = scratchDir('ycs-config-');
  file = join(scratch.dir, 'ycs.json');
  writeFileSync(join(scratch.dir, 'vote0.img'), Buffer.alloc(4096));
  writeFileSync(join(scratch.dir, 'data0.img'), Buffer.alloc(4096));
  writeFileSync(join(scratch.dir, 'cluster.key'), Buffer.alloc(32, 1), { mode: 0o600 });
  writeFileSync(join(scratch.dir, 'agent.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  writeFileSync(join(scratch.dir, 'not-exec.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o644 });
});
afterEach(() => scratch.remove());

function goodConfig(): Record<string, unknown> {
  return {
    cluster: 'demo',
    hostId: 2,
    hosts: [
      { id: 1, address: '127.0.0.1', port: 7101 },
      { id: 2, address: '127.0.0.2', port: 7101 },
    ],
    votingDisks: ['vote0.img'],
    dataDisks: [join(scratch.dir, 'data0.img')],
    fencing: 'none',
    keyFile: 'cluster.key',
    DISK_HB_KEEP_ALIVE: 3000,
    NETWORK_HB_TIMEOUT: 2000,
    resources: [
      { name: 'YasFS', agent: 'agent.sh' },
      { name: 'YasDB', agent: join(scratch.dir, 'agent.sh'), socket: '/tmp/yasdb.sock', monitorIntervalMs: 500, env: { PGDATA: '/db' }, heartbeat2: 'required' },
    ],
    controlSocket: 'run/ycs.sock',
    runDir: 'run',
    logLevel: 'debug',
  };
}

function write(obj: unknown): string {
  writeFileSync(file, JSON.stringify(obj, null, 2));
  return file;
}

function problemsOf(obj: unknown): string[] {
  return checkConfig(JSON.stringify(obj), file).problems;
}

describe('config', () => {
  it('loads a valid file, resolving relative paths against its directory and filling defaults', () => {
    const config = loadConfig(write(goodConfig()));
    expect(config.cluster).toBe('demo');
    expect(config.hostId).toBe(2);
    expect(config.votingDisks).toEqual([join(scratch.dir, 'vote0.img')]);
    expect(config.keyFile).toBe(join(scratch.dir, 'cluster.key'));
    expect(config.controlSocket).toBe(join(scratch.dir, 'run/ycs.sock'));
    expect(config.controlGroup).toBe('root');
    expect(config.controlSocketPublic).toBe(false);
    expect(config.DISK_HB_INTERVAL).toBeUndefined();
    expect(config.timeouts).toMatchObject({ diskHbKeepAliveMs: 3000, networkHbTimeoutMs: 2000, diskHbIntervalMs: 250 });
    const { DISK_HB_KEEP_ALIVE: _k, NETWORK_HB_TIMEOUT: _n, ...defaulted } = goodConfig();
    expect(parseConfig(JSON.stringify(defaulted), file)).toMatchObject({ DISK_HB_KEEP_ALIVE: 2000, NETWORK_HB_TIMEOUT: 2000 });
    expect(config.resources[0]).toEqual({
      name: 'YasFS',
      agent: join(scratch.dir, 'agent.sh'),
      socket: join(scratch.dir, 'run/YasFS.sock'),
      monitorIntervalMs: 2000,
      actionTimeoutMs: 30000,
      env: {},
      heartbeat2: 'optional',
    });
    expect(config.resources[1]).toMatchObject({ socket: '/tmp/yasdb.sock', monitorIntervalMs: 500, env: { PGDATA: '/db' }, heartbeat2: 'required' });
  });

  it('reports every problem at once, one line each, in the documented form', () => {
    const bad = {
      ...goodConfig(),
      hostId: 9,
      colour: 'blue',
      hosts: [
        { id: 1, address: '127.0.0.1', port: 7101 },
        { id: 1, address: 'host-b', port: 70000, weight: 3 },
      ],
      votingDisks: ['vote0.img', join(scratch.dir, 'missing.img')],
      fencing: 'stonith',
      DISK_HB_KEEP_ALIVE: '3s',
      NETWORK_HB_TIMEOUT: 50,
      resources: [{ name: 'YasDB', agent: 'not-exec.sh' }, { name: 'YasDB', agent: 'nope.sh', heartbeat2: 'always' }, { name: '1bad' }],
      controlGroup: 'no-such-group-ycs',
      controlSocketPublic: 'yes',
      logLevel: 'loud',
    };
    const problems = problemsOf(bad);
    const expected = [
      `E_CONFIG: ${file}: colour: unknown key`,
      `E_CONFIG: ${file}: hosts[1].weight: unknown key`,
      `E_CONFIG: ${file}: hosts[1].port: must be in 1..65535, got 70000`,
      `E_CONFIG: ${file}: hosts[1].address: "host-b" is not an IP address`,
      `E_CONFIG: ${file}: hosts[1].id: duplicate host id 1`,
      `E_CONFIG: ${file}: hostId: host 9 is not in hosts`,
      `E_CONFIG: ${file}: votingDisks: must list 1, 3 or 5 voting disks (a majority must survive), got 2`,
      `E_CONFIG: ${file}: votingDisks[1]: ${join(scratch.dir, 'missing.img')} is unreachable (ENOENT)`,
      `E_CONFIG: ${file}: fencing: must be one of none, scsi-pr, block-pr, iscsi-pr, got "stonith"`,
      `E_CONFIG: ${file}: DISK_HB_KEEP_ALIVE: must be an integer, got "3s"`,
      `E_CONFIG: ${file}: NETWORK_HB_TIMEOUT: must be in 200..600000, got 50`,
      `E_CONFIG: ${file}: resources[0].agent: ${join(scratch.dir, 'not-exec.sh')} is not executable`,
      `E_CONFIG: ${file}: resources[1].name: duplicate resource name YasDB`,
      `E_CONFIG: ${file}: resources[1].agent: ${join(scratch.dir, 'nope.sh')} is unreachable (ENOENT)`,
      `E_CONFIG: ${file}: resources[1].heartbeat2: must be one of required, optional, got "always"`,
      `E_CONFIG: ${file}: resources[2].name: "1bad" must be a letter then up to 31 letters, digits, _ or -`,
      `E_CONFIG: ${file}: resources[2].agent: is required`,
      `E_CONFIG: ${file}: controlGroup: group "no-such-group-ycs" does not exist`,
      `E_CONFIG: ${file}: controlSocketPublic: must be true or false, got "yes"`,
      `E_CONFIG: ${file}: logLevel: must be one of trace, debug, info, warn, error, fatal, got "loud"`,
    ];
    expect([...problems].sort()).toEqual([...expected].sort());
    for (const p of problems) expect(p).not.toContain('\n');
  });

  it('throws a ConfigError whose one-line form per problem is E_CONFIG: ...', () => {
    let caught: unknown;
    try {
      parseConfig(JSON.stringify({ ...goodConfig(), hostId: 0, fencing: 1 }), file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect(isYcsError(caught, 'E_CONFIG')).toBe(true);
    const err = caught as ConfigError;
    expect(err.problems).toHaveLength(2);
    expect(err.toLine().split('\n')).toEqual(err.problems);
  });

  it('checks voting disk counts, duplicates, iscsi URLs and timeout ratios', () => {
    for (const n of [1, 3, 5]) {
      const disks = Array.from({ length: n }, (_, i) => `iscsi://127.0.0.1:3260/iqn.2026-01.ycs:t${i}/0`);
      expect(problemsOf({ ...goodConfig(), votingDisks: disks })).toEqual([]);
    }
    expect(problemsOf({ ...goodConfig(), votingDisks: [] })).toEqual([
      `E_CONFIG: ${file}: votingDisks: must list 1, 3 or 5 voting disks (a majority must survive), got 0`,
    ]);
    expect(problemsOf({ ...goodConfig(), votingDisks: ['iscsi://host/no-lun'] })).toEqual([
      `E_CONFIG: ${file}: votingDisks[0]: iscsi://host/no-lun is not of the form iscsi://host[:port]/IQN/LUN`,
    ]);
    expect(problemsOf({ ...goodConfig(), dataDisks: ['data0.img', 'data0.img'] })).toEqual([
      `E_CONFIG: ${file}: dataDisks[1]: ${join(scratch.dir, 'data0.img')} is listed twice`,
    ]);
    // the safety rules come from src/core/timeouts.ts, reported under the seed's names
    expect(problemsOf({ ...goodConfig(), DISK_HB_INTERVAL: 1500 })).toEqual([
      `E_CONFIG: ${file}: DISK_HB_KEEP_ALIVE: unsafe: DISK_HB_KEEP_ALIVE (3000) must exceed lease*(1+rho)/(1-rho) + ioMargin (3056); raise the keep-alive or lower the interval/spike`,
    ]);
    expect(problemsOf({ ...goodConfig(), NETWORK_HB_TIMEOUT: 1000 })).toEqual([
      `E_CONFIG: ${file}: NETWORK_HB_TIMEOUT: unsafe: NETWORK_HB_TIMEOUT (1000) must exceed interval + spike + margin (1500)`,
    ]);
    expect(problemsOf({ ...goodConfig(), DISK_HB_INTERVAL: 500 })).toEqual([]);
  });

  it('reports unreadable files, bad JSON and a non-object', () => {
    expect(() => loadConfig(join(scratch.dir, 'absent.json'))).toThrow(/absent.json: \(file\): cannot be read \(ENOENT\)/);
    expect(problemsOf([])).toEqual([`E_CONFIG: ${file}: (file): must be an object, got an array`]);
    writeFileSync(file, '{ "cluster": ');
    expect(() => loadConfig(file)).toThrow(/\(file\): is not valid JSON/);
    const keyless = { ...goodConfig(), keyFile: 'gone.key' };
    expect(problemsOf(keyless)).toEqual([`E_CONFIG: ${file}: keyFile: ${join(scratch.dir, 'gone.key')} is unreachable (ENOENT)`]);
  });

  it('looks up groups by name or number', () => {
    const groups = join(scratch.dir, 'group');
    writeFileSync(groups, 'root:x:0:\nycs:x:990:alice,bob\n');
    chmodSync(groups, 0o644);
    expect(lookupGroupId('ycs', groups)).toBe(990);
    expect(lookupGroupId('root', groups)).toBe(0);
    expect(lookupGroupId('1234', groups)).toBe(1234);
    expect(lookupGroupId('nobody-here', groups)).toBeUndefined();
  });
});
