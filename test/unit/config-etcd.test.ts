// The etcd section of the config (arbitration "etcd"): defaults, derived timing, and one
// line per problem naming the key.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkConfig, parseConfig } from '../../src/config/index.js';
import { scratchDir } from '../helpers/loop.js';

let scratch: ReturnType<typeof scratchDir>;
let file: string;

beforeEach(() => {
  scratch = scratchDir('ycs-config-etcd-');
  file = join(scratch.dir, 'ycs.json');
  writeFileSync(join(scratch.dir, 'cluster.key'), Buffer.alloc(32, 1), { mode: 0o600 });
  writeFileSync(join(scratch.dir, 'ca.pem'), 'ca');
  writeFileSync(join(scratch.dir, 'pw'), 'secret\n');
});
afterEach(() => scratch.remove());

function etcdConfig(etcd: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    cluster: 'prod',
    hostId: 1,
    hosts: [{ id: 1, address: '127.0.0.1', port: 7101 }, { id: 2, address: '127.0.0.2', port: 7101 }],
    arbitration: 'etcd',
    etcd,
    keyFile: 'cluster.key',
    runDir: 'run',
    ...extra,
  });
}

const problems = (text: string): string[] => checkConfig(text, file).problems;

describe('config: arbitration "etcd"', () => {
  it('needs no voting disk; prefix, TTL and timing have defaults', () => {
    const config = parseConfig(etcdConfig({ endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379/'] }), file);
    expect(config.arbitration).toBe('etcd');
    expect(config.votingDisks).toEqual([]);
    expect(config.etcd).toMatchObject({ endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], prefix: '/ycs/prod', leaseTtlMs: 3000 });
    expect(config.etcd?.store).toMatchObject({ ttlMs: 3000, keepaliveIntervalMs: 500, callDeadlineMs: 1000, pollIntervalMs: 100, primaryGrantMs: 500 });
    const tls = parseConfig(etcdConfig({ endpoints: ['https://e:2379'], caFile: 'ca.pem', username: 'ycs', passwordFile: 'pw', leaseTtlMs: 5000, prefix: '/a/b' }), file);
    expect(tls.etcd).toMatchObject({ caFile: join(scratch.dir, 'ca.pem'), username: 'ycs', passwordFile: join(scratch.dir, 'pw'), prefix: '/a/b', leaseTtlMs: 5000 });
  });

  it('reports each problem on one line naming the key', () => {
    expect(problems(etcdConfig(undefined))).toEqual([`E_CONFIG: ${file}: etcd: is required with arbitration "etcd" (at least etcd.endpoints)`]);
    expect(problems(etcdConfig({ endpoints: [] }))).toEqual([`E_CONFIG: ${file}: etcd.endpoints: must list at least one endpoint`]);
    expect(problems(etcdConfig({ endpoints: ['10.0.0.1:2379'] }))).toEqual([`E_CONFIG: ${file}: etcd.endpoints[0]: must be an http(s)://host:port URL, got "10.0.0.1:2379"`]);
    expect(problems(etcdConfig({ endpoints: ['http://e:1'], leaseTtlMs: 2500 }))).toEqual([`E_CONFIG: ${file}: etcd.leaseTtlMs: must be a whole number of seconds (etcd leases count seconds), got 2500`]);
    expect(problems(etcdConfig({ endpoints: ['http://e:1'], leaseTtlMs: 1000 }))[0]).toMatch(/etcd.leaseTtlMs: must be in 2000..60000, got 1000/);
    expect(problems(etcdConfig({ endpoints: ['http://e:1'], prefix: 'ycs/' }))[0]).toMatch(/etcd.prefix: must start with \//);
    expect(problems(etcdConfig({ endpoints: ['http://e:1'], colour: 'red' }))).toEqual([`E_CONFIG: ${file}: etcd.colour: unknown key`]);
    expect(problems(etcdConfig({ endpoints: ['https://e:1'] }))).toEqual([`E_CONFIG: ${file}: etcd.caFile: is required with https:// endpoints`]);
    expect(problems(etcdConfig({ endpoints: ['http://e:1'], username: 'u' }))).toEqual([`E_CONFIG: ${file}: etcd.username: username and passwordFile go together`]);
    expect(problems(etcdConfig({ endpoints: ['http://e:1'], caFile: 'missing.pem' }))[0]).toMatch(/etcd.caFile: .*missing.pem is unreachable \(ENOENT\)/);
    expect(problems(etcdConfig({ endpoints: ['http://e:1'] }, { votingDisks: ['/dev/sdb'] }))).toEqual([`E_CONFIG: ${file}: votingDisks: not used with arbitration "etcd" (etcd holds the master lease): remove it`]);
    expect(problems(etcdConfig({ endpoints: ['http://e:1'] }, { fencing: 'iscsi-pr' }))).toEqual([`E_CONFIG: ${file}: fencing: iscsi-pr in etcd mode fences the data disks: list them in dataDisks`]);
    expect(problems(etcdConfig({ endpoints: ['http://e:1'] }, { arbitration: 'zookeeper' }))[0]).toMatch(/arbitration: must be one of disk, etcd, got "zookeeper"/);
  });

  it('disk mode refuses an etcd section', () => {
    const text = JSON.stringify({ cluster: 'c', hostId: 1, hosts: [{ id: 1, address: '127.0.0.1', port: 1 }], votingDisks: [join(scratch.dir, 'ca.pem')], keyFile: 'cluster.key', etcd: {} });
    expect(problems(text)).toEqual([`E_CONFIG: ${file}: etcd: only used with arbitration "etcd"`]);
  });
});
