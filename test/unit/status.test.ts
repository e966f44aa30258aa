// renderStatus against the YCS seed's `ycsctl status` examples (2 hosts, YasFS and YasDB),
// and the command end to end against a real control socket.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type StatusIo, type StatusResult, renderStatus, runStatus, statusFromView, statusJson } from '../../src/cli/status.js';
import { ControlServer } from '../../src/daemon/control.js';
import { scratchDir } from '../helpers/loop.js';

// Verbatim from seeds/ycs-cluster-ha.txt (trailing spaces included).
const SEED_BEFORE_FAILURE = `-----------------------------------------------------------------------------------------
Self Host ID|Cluster Master ID|YasFS Master ID|YasDB Master ID|Active Host Count
-----------------------------------------------------------------------------------------
1       1            1                 1               1               2         
-----------------------------------------------------------------------------------------
Host ID   |Target    |State     |YasFS     |YasDB
-----------------------------------------------------------------------------------------
1          online     online     online     online     
2          online     online     online     online                     `;
const SEED_AFTER_FAILURE = `-----------------------------------------------------------------------------------------
Self Host ID|Cluster Master ID|YasFS Master ID|YasDB Master ID|Active Host Count
-----------------------------------------------------------------------------------------
2       2            2                 2               2                1         
-----------------------------------------------------------------------------------------
Host ID   |Target    |State     |YasFS     |YasDB
-----------------------------------------------------------------------------------------
1          online     offline    offline    offline     
2          online     online     online     online                     `;

const beforeFailure: StatusResult = {
  selfId: 1,
  role: 'master',
  epoch: 4,
  masterId: 1,
  members: [1, 2],
  resources: ['YasFS', 'YasDB'],
  resourceMasters: [1, 1],
  hosts: [
    { hostId: 1, target: 'online', state: 'online', resources: ['primary', 'primary'] },
    { hostId: 2, target: 'online', state: 'online', resources: ['standby', 'standby'] },
  ],
};

const afterFailure: StatusResult = {
  selfId: 2,
  role: 'master',
  epoch: 5,
  masterId: 2,
  members: [2],
  resources: ['YasFS', 'YasDB'],
  resourceMasters: [2, 2],
  hosts: [
    { hostId: 2, target: 'online', state: 'online', resources: ['primary', 'primary'] },
    { hostId: 1, target: 'online', state: 'offline', resources: ['offline', 'failed'] },
  ],
};

const trimLines = (text: string) => text.split('\n').map((l) => l.trimEnd());

/**
 * The seed's first value row shows six values under five labels ("1 1 1 1 1 2"): the
 * extra leading value belongs to no column. ycs prints one value per label, starting
 * under the label; this drops the seed's stray first token and compares the rest.
 */
function seedSummaryTokens(seed: string): string[] {
  return (trimLines(seed)[3] ?? '').split(/\s+/).slice(1);
}

describe('renderStatus', () => {
  for (const [name, view, seed] of [
    ['before the failure', beforeFailure, SEED_BEFORE_FAILURE],
    ['after host 1 failed', afterFailure, SEED_AFTER_FAILURE],
  ] as const) {
    it(`reproduces the seed's tables ${name}`, () => {
      const rendered = trimLines(renderStatus(view));
      const expected = trimLines(seed);
      expect(rendered).toHaveLength(expected.length);
      // separators, both headers and every host row: identical modulo trailing spaces
      for (const i of [0, 1, 2, 4, 5, 6, 7, 8]) expect(rendered[i]).toBe(expected[i]);
      expect((rendered[3] ?? '').split(/\s+/)).toEqual(seedSummaryTokens(seed));
    });
  }

  it('puts each summary value under the first character of its label', () => {
    const lines = renderStatus(beforeFailure).split('\n');
    const header = lines[1] ?? '';
    const row = lines[3] ?? '';
    const labelStarts = [0, ...[...header].flatMap((ch, i) => (ch === '|' ? [i + 1] : []))];
    expect(labelStarts).toEqual([0, 13, 31, 47, 63]);
    for (const start of labelStarts) expect(row[start]).toMatch(/\S/);
    expect(row.trimEnd()).toBe('1            1                 1               1               2');
  });

  it('grows with the resources: one Master ID column and one host column each', () => {
    const view: StatusResult = {
      ...beforeFailure,
      masterId: 0,
      resources: ['YasFS', 'YasDB', 'ReportingReplica'],
      resourceMasters: [1, 0, 2],
      hosts: beforeFailure.hosts.map((h) => ({ ...h, resources: [...h.resources, 'starting'] })),
    };
    const lines = renderStatus(view).split('\n');
    expect(lines[1]).toBe('Self Host ID|Cluster Master ID|YasFS Master ID|YasDB Master ID|ReportingReplica Master ID|Active Host Count');
    expect(lines[3]?.split(/\s+/).filter(Boolean)).toEqual(['1', '-', '1', '-', '2', '2']);
    expect(lines[5]).toBe('Host ID   |Target    |State     |YasFS     |YasDB     |ReportingReplica');
    expect(lines[7]?.trimEnd()).toBe('1          online     online     online     online     offline');
    const width = Math.max(...lines.map((l) => l.trimEnd().length));
    expect(lines[0]).toBe('-'.repeat(Math.max(89, (lines[1] ?? '').length)));
    expect((lines[0] ?? '').length).toBeGreaterThanOrEqual(width);
  });

  it('derives each resource master from the hosts where it is primary', () => {
    const { resources: _r, resourceMasters: _m, ...view } = afterFailure;
    expect(statusFromView(view, ['YasFS', 'YasDB']).resourceMasters).toEqual([2, 2]);
    const split = {
      ...view,
      hosts: [
        { hostId: 1, target: 'online' as const, state: 'online' as const, resources: ['primary' as const, 'standby' as const] },
        { hostId: 2, target: 'online' as const, state: 'online' as const, resources: ['primary' as const, 'starting' as const] },
      ],
    };
    expect(statusFromView(split, ['YasFS', 'YasDB']).resourceMasters).toEqual([0, 0]);
  });

  it('gives --json the same facts with states by resource name', () => {
    expect(statusJson(afterFailure)).toEqual({
      selfId: 2,
      role: 'master',
      epoch: 5,
      masterId: 2,
      members: [2],
      activeHostCount: 1,
      resources: [{ name: 'YasFS', masterId: 2 }, { name: 'YasDB', masterId: 2 }],
      hosts: [
        { hostId: 1, target: 'online', state: 'offline', resources: { YasFS: 'offline', YasDB: 'failed' } },
        { hostId: 2, target: 'online', state: 'online', resources: { YasFS: 'primary', YasDB: 'primary' } },
      ],
    });
  });
});

describe('ycsctl status against a control socket', () => {
  let scratch: ReturnType<typeof scratchDir>;
  let server: ControlServer | undefined;
  let current: StatusResult;
  let socketPath: string;

  beforeEach(async () => {
    scratch = scratchDir('ycs-status-');
    socketPath = join(scratch.dir, 'ycs.sock');
    current = beforeFailure;
    server = await ControlServer.start({
      socketPath,
      group: 'root',
      commands: { status: { mutating: false, handler: () => current } },
    });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    scratch.remove();
  });

  function io(isTTY: boolean, onSleep: () => void = () => undefined): StatusIo & { out: string[] } {
    const out: string[] = [];
    return {
      out,
      isTTY,
      write: (text) => out.push(text),
      sleep: async () => onSleep(),
      stopped: () => false,
    };
  }

  it('prints the tables, or JSON, fetched from the daemon', async () => {
    const plain = io(false);
    expect(await runStatus(['--socket', socketPath], plain)).toBe(0);
    expect(plain.out.join('')).toBe(`${renderStatus(beforeFailure)}\n`);
    const json = io(false);
    await runStatus(['--socket', socketPath, '--json'], json);
    expect(JSON.parse(json.out.join(''))).toEqual(statusJson(beforeFailure));
  });

  it('says when the daemon is up but has not joined (role starting), unlike a daemon that is down', async () => {
    current = { ...beforeFailure, role: 'starting', masterId: 0, resourceMasters: [0, 0] };
    const plain = io(false);
    expect(await runStatus(['--socket', socketPath], plain)).toBe(0);
    expect(plain.out.join('')).toBe(`${renderStatus(current)}\nnote: ycs is running on this host but has not joined the cluster yet (role starting)\n`);
    await expect(runStatus(['--socket', join(scratch.dir, 'none.sock')], io(false))).rejects.toMatchObject({ code: 'E_DAEMON_DOWN', message: expect.stringMatching(/^ycs is not running on this host/) });
  });

  it('finds the socket through --config', async () => {
    const config = join(scratch.dir, 'ycs.json');
    writeFileSync(config, JSON.stringify({ cluster: 'demo', controlSocket: 'ycs.sock' }));
    const plain = io(false);
    await runStatus(['--config', config], plain);
    expect(plain.out.join('')).toContain('Self Host ID|Cluster Master ID|YasFS Master ID');
  });

  it('--watch refreshes in place on a terminal and repeats blocks otherwise', async () => {
    const tty = io(true, () => {
      current = afterFailure; // the failover happens between two refreshes
    });
    await runStatus(['--socket', socketPath, '--watch', '--interval-ms', '100', '--count', '2'], tty);
    expect(tty.out).toHaveLength(2);
    for (const block of tty.out) expect(block.startsWith('\x1b[H\x1b[2J')).toBe(true);
    expect(tty.out[0]).toContain(renderStatus(beforeFailure));
    expect(tty.out[1]).toContain(renderStatus(afterFailure));

    current = beforeFailure;
    const pipe = io(false);
    await runStatus(['--socket', socketPath, '--watch', '--count', '3'], pipe);
    expect(pipe.out).toEqual(Array(3).fill(`${renderStatus(beforeFailure)}\n\n`));
  });

  it('says in one line that the daemon is down', async () => {
    const missing = join(scratch.dir, 'gone.sock');
    const err = await runStatus(['--socket', missing], io(false)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_DAEMON_DOWN' });
    expect((err as { toLine(): string }).toLine()).toBe(
      `E_DAEMON_DOWN: ycs is not running on this host (no control socket at ${missing})`,
    );
    const watching = io(false);
    await runStatus(['--socket', missing, '--watch', '--count', '1'], watching);
    expect(watching.out).toEqual([`E_DAEMON_DOWN: ycs is not running on this host (no control socket at ${missing})\n\n`]);
  });

  it('rejects bad flags as usage errors', async () => {
    await expect(runStatus(['--interval-ms', '500'], io(false))).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(runStatus(['--watch', '--interval-ms', '5'], io(false))).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(runStatus(['--socket', 'a', '--config', 'b'], io(false))).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(runStatus(['--bogus'], io(false))).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
