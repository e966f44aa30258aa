// The daemon's fencing wiring on a real iSCSI target (tgtd on 127.0.0.1) with SCSI-3
// persistent reservations: three hosts register on admission, the master holds the
// WERO reservation, and an operator fence of a standby gets it evicted (its writes are
// refused) until the cluster admits it again and it re-registers. Needs root and tgtd.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusResult } from '../../src/cli/status.js';
import { callDaemon } from '../../src/control/client.js';
import { agreedMaster, type LocalCluster } from '../../src/demo/cluster.js';
import { isYcsError } from '../../src/errors.js';
import { registeredHosts, startFencedCluster, type FencedCluster, type FenceStatusJson } from '../helpers/fenced-cluster.js';
import { waitUntil as pollProbe } from '../helpers/wait.js';

let fixture: FencedCluster | undefined;
let cluster: LocalCluster | undefined;
let master: number;

function fenceStatus(hostId: number): Promise<FenceStatusJson> {
  return callDaemon(cluster!.host(hostId).socketPath, 'fence-status', {}) as Promise<FenceStatusJson>;
}

const waitUntil = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> =>
  pollProbe(what, timeoutMs, probe, 100);

beforeAll(async () => {
  fixture = await startFencedCluster('ycs-daemon-fence-');
  ({ cluster, master } = fixture);
}, 60_000);

afterAll(async () => {
  await fixture?.stop();
}, 60_000);

describe('fencing through the daemon on an iSCSI LUN', () => {
  it('registers every admitted host and lets the master hold the WERO reservation', async () => {
    const status = await waitUntil('three registrations', 15_000, async () => {
      const s = await fenceStatus(master);
      return registeredHosts(s).join() === '1,2,3' ? s : undefined;
    });
    expect(status.state).toBe('master');
    expect(status.devices[0]?.reservation).toMatchObject({ hostId: master, type: 5 });
    expect(status.devices[0]?.registrations?.every((r) => r.count === 1)).toBe(true);
  });

  it('refuses to fence its own host or a host that is not configured', async () => {
    const socket = cluster!.host(master).socketPath;
    const own = await callDaemon(socket, 'fence', { host: master }).catch((err: unknown) => err);
    expect(isYcsError(own, 'E_REFUSED')).toBe(true);
    const unknown = await callDaemon(socket, 'fence', { host: 9 }).catch((err: unknown) => err);
    expect(isYcsError(unknown, 'E_INVALID_ARGUMENT')).toBe(true);
  });

  it('an operator fence evicts a standby, which rejoins and registers again once admitted', async () => {
    const victim = [1, 2, 3].find((h) => h !== master)!;
    const outcome = (await callDaemon(cluster!.host(master).socketPath, 'fence', { host: victim })) as { kind: string };
    expect(outcome.kind).toBe('fenced');
    expect(registeredHosts(await fenceStatus(master))).not.toContain(victim);
    // Its next heartbeat write meets RESERVATION CONFLICT: it knows it was fenced.
    await waitUntil('the victim to notice', 10_000, async () => {
      const s = await cluster!.status(victim);
      return s.role === 'evicted' || s.role === 'starting' ? s : undefined;
    });
    // The master never changed, and the victim comes back as a registered standby.
    const back = await waitUntil('the victim to rejoin', 20_000, async () => {
      const s: StatusResult = await cluster!.status(victim);
      const registered = registeredHosts(await fenceStatus(master)).includes(victim);
      return s.role === 'standby' && registered ? s : undefined;
    });
    expect(back.masterId).toBe(master);
    expect(agreedMaster(await cluster!.statuses())).toBe(master);
    const log = readFileSync(cluster!.host(victim).logPath, 'utf8');
    expect(log).toMatch(/registered this host's key on \S+ at epoch \d+/);
  }, 40_000);
});
