// The etcd leader record (src/etcd/leader-store.ts) on a real 3-member etcd cluster
// (Debian's etcd-server, started here on 127.0.0.1 and removed afterwards): one winner
// per term, epochs from create revisions that only grow, release at once on resign,
// release after the TTL when the holder stops renewing, and a master role bounded by the
// send time of its last acknowledged keepalive; member loss and leader changes cost the
// holder nothing.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdLeaderStore } from '../../src/etcd/leader-store.js';
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd.js';
import { scratchDir } from '../helpers/loop.js';

const RHO = 0.01;
const MARGIN_MS = 100;
let scratch: { dir: string; remove(): void };
let etcd: EtcdCluster;
const stores: EtcdLeaderStore[] = [];

function store(prefix = '/ycs/test'): EtcdLeaderStore {
  const s = new EtcdLeaderStore({ endpoints: etcd.endpoints(), prefix, callTimeoutMs: 1_000, now: () => performance.now() });
  stores.push(s);
  return s;
}

beforeAll(async () => {
  scratch = scratchDir('ycs-etcd-');
  etcd = await startEtcdCluster(scratch.dir);
}, 60_000);

afterAll(async () => {
  for (const s of stores) s.close();
  await etcd?.stop();
  scratch?.remove();
});

describe('etcd leader record', () => {
  it('one host wins the term; the other sees the holder and its epoch', async () => {
    const a = store('/ycs/one');
    const b = store('/ycs/one');
    const won = await a.campaign(1, 3_000, RHO, MARGIN_MS);
    expect(won.kind).toBe('won');
    const lost = await b.campaign(2, 3_000, RHO, MARGIN_MS);
    expect(lost).toMatchObject({ kind: 'held', record: { hostId: 1 } });
    if (won.kind !== 'won' || lost.kind !== 'held') return;
    expect(lost.record?.epoch).toBe(won.record.epoch);
    // The master role ends before etcd can have expired the lease (send time + TTL, drift, margin).
    expect(won.validUntilMs).toBeLessThan(performance.now() + 3_000);
    await a.resign();
  });

  it('resign releases at once and the next term has a larger epoch', async () => {
    const a = store('/ycs/two');
    const b = store('/ycs/two');
    const first = await a.campaign(1, 5_000, RHO, MARGIN_MS);
    if (first.kind !== 'won') throw new Error('a lost');
    const resignedAt = performance.now();
    await a.resign();
    const second = await b.campaign(2, 5_000, RHO, MARGIN_MS);
    const tookMs = performance.now() - resignedAt;
    console.log(`etcd: resign to the next holder's win: ${tookMs.toFixed(1)} ms`);
    expect(second.kind).toBe('won');
    if (second.kind !== 'won') return;
    expect(second.record.epoch).toBeGreaterThan(first.record.epoch);
    expect(tookMs).toBeLessThan(500);
    await b.resign();
  });

  it('a holder that stops renewing loses the key after its TTL, never before its own end', async () => {
    const a = store('/ycs/three');
    const b = store('/ycs/three');
    const won = await a.campaign(1, 2_000, RHO, MARGIN_MS);
    if (won.kind !== 'won') throw new Error('a lost');
    const end = won.validUntilMs; // a stops acting as master here (a crash stops renewing too)
    let takenAt: number | undefined;
    for (let i = 0; i < 80 && takenAt === undefined; i++) {
      const r = await b.campaign(2, 2_000, RHO, MARGIN_MS);
      if (r.kind === 'won') takenAt = performance.now();
      else await sleep(50);
    }
    expect(takenAt).toBeDefined();
    console.log(`etcd: TTL 2 s lapse: taken over ${((takenAt ?? 0) - end).toFixed(0)} ms after the old holder's own end`);
    expect(takenAt ?? 0).toBeGreaterThan(end); // never two acting masters
    await b.resign();
  });

  it('keepalives extend the end from their send time and survive a member kill and leader changes', async () => {
    const a = store('/ycs/four');
    const won = await a.campaign(1, 3_000, RHO, MARGIN_MS);
    if (won.kind !== 'won') throw new Error('a lost');
    let end = won.validUntilMs;
    const renew = async (): Promise<void> => {
      const before = performance.now();
      const next = await a.keepAlive(RHO, MARGIN_MS);
      expect(next).toBeGreaterThan(end - 1);
      expect(next).toBeLessThanOrEqual(before + 3_000 * (1 - RHO) - MARGIN_MS + 1);
      end = next;
    };
    await renew();
    const victim = etcd.members.find((m) => m.clientUrl !== etcd.endpoints()[0])!.name;
    await etcd.kill(victim);
    for (let i = 0; i < 5; i++) {
      await renew();
      expect(performance.now()).toBeLessThan(end); // still the master throughout
      await sleep(200);
    }
    await etcd.start(victim);
    for (let i = 0; i < 3; i++) {
      await etcd.moveLeader();
      await renew();
      expect(performance.now()).toBeLessThan(end);
    }
    expect((await store('/ycs/four').readLeader())?.hostId).toBe(1);
    await a.resign();
    expect(await store('/ycs/four').readLeader()).toBeNull();
  }, 60_000);

  it('refuses a bad prefix and an empty endpoint list with one line', () => {
    expect(() => new EtcdLeaderStore({ endpoints: [], prefix: '/x', callTimeoutMs: 1, now: () => 0 })).toThrow(/at least one endpoint/);
    expect(() => new EtcdLeaderStore({ endpoints: ['http://127.0.0.1:1'], prefix: 'x/', callTimeoutMs: 1, now: () => 0 })).toThrow(/prefix must start with \//);
  });
});
