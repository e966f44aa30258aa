// The `http` config key (metrics and health endpoints): off by default, loopback by default.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/config/index.js';
import { scratchDir } from '../helpers/loop.js';

let scratch: ReturnType<typeof scratchDir>;
let file: string;
beforeEach(() => {
  scratch = scratchDir('ycs-config-http-');
  file = join(scratch.dir, 'ycs.json');
  writeFileSync(join(scratch.dir, 'cluster.key'), Buffer.alloc(32, 1), { mode: 0o600 });
  writeFileSync(join(scratch.dir, 'vote.img'), Buffer.alloc(4096));
});
afterEach(() => scratch.remove());

function check(http: unknown): ReturnType<typeof checkConfig> {
  const config = { cluster: 'c', hostId: 1, hosts: [{ id: 1, address: '127.0.0.1', port: 7101 }], votingDisks: ['vote.img'], keyFile: 'cluster.key', runDir: 'run', ...(http === undefined ? {} : { http }) };
  return checkConfig(JSON.stringify(config), file);
}

describe('config: http', () => {
  it('is off unless configured; the address defaults to loopback', () => {
    expect(check(undefined).config?.http).toBeNull();
    expect(check({ port: 9646 }).config?.http).toEqual({ address: '127.0.0.1', port: 9646 });
    expect(check({ address: '0.0.0.0', port: 80 }).config?.http).toEqual({ address: '0.0.0.0', port: 80 });
  });

  it('reports bad values one line each', () => {
    expect(check({}).problems).toEqual([`E_CONFIG: ${file}: http.port: is required`]);
    expect(check({ port: 70000 }).problems).toEqual([`E_CONFIG: ${file}: http.port: must be in 1..65535, got 70000`]);
    expect(check({ port: 1, address: 'localhost' }).problems).toEqual([`E_CONFIG: ${file}: http.address: "localhost" is not an IP address`]);
    expect(check({ port: 1, tls: true }).problems).toEqual([`E_CONFIG: ${file}: http.tls: unknown key`]);
    expect(check(9646).problems).toEqual([`E_CONFIG: ${file}: http: must be an object, got number 9646`]);
  });
});
