// Real UDP sockets on 127.0.0.1 with ephemeral ports.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostId, NetHeartbeat } from '../../src/core/types.js';
import { clusterIdFromName, encodeHeartbeat } from '../../src/net/codec.js';
import { UdpTransport } from '../../src/net/transport.js';

const key = randomBytes(32);
const opened: UdpTransport[] = [];
const rawSockets: dgram.Socket[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
  for (const s of rawSockets.splice(0)) s.close();
});

interface Node {
  id: HostId;
  transport: UdpTransport;
  received: NetHeartbeat[];
}

async function cluster(ids: HostId[], name = 'demo', clusterKey = key): Promise<Node[]> {
  const nodes: Node[] = [];
  for (const id of ids) {
    const received: NetHeartbeat[] = [];
    const transport = await UdpTransport.open({
      cluster: name,
      selfId: id,
      incarnation: 100 + id,
      bindAddress: '127.0.0.1',
      bindPort: 0,
      peers: [],
      key: clusterKey,
      onHeartbeat: (m) => received.push(m),
    });
    opened.push(transport);
    nodes.push({ id, transport, received });
  }
  const peers = nodes.map((n) => ({ id: n.id, address: '127.0.0.1', port: n.transport.address().port }));
  for (const n of nodes) n.transport.setPeers(peers);
  return nodes;
}

function heartbeat(from: HostId, extra: Partial<NetHeartbeat> = {}): NetHeartbeat {
  return { from, incarnation: 0, sequence: 0, role: 'standby', epoch: 3, masterId: 1, heard: [], ...extra };
}

async function until(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function rawSend(packet: Buffer, port: number): Promise<void> {
  const socket = dgram.createSocket('udp4');
  rawSockets.push(socket);
  await new Promise<void>((resolve, reject) => socket.send(packet, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
}

function totalDropped(t: UdpTransport): number {
  return Object.values(t.stats().dropped).reduce((a, b) => a + b, 0);
}

describe('UDP transport', () => {
  it('delivers heartbeats between three hosts, stamped with incarnation and sequence', async () => {
    const nodes = await cluster([1, 2, 3]);
    for (const n of nodes) await n.transport.send(heartbeat(n.id, { heard: nodes.filter((p) => p !== n).map((p) => p.id) }));
    await until(() => nodes.every((n) => n.received.length === 2));
    const [one] = nodes;
    expect(one!.received.map((m) => m.from).sort()).toEqual([2, 3]);
    expect(one!.received.find((m) => m.from === 2)).toEqual(
      heartbeat(2, { incarnation: 102, sequence: 1, heard: [1, 3] }),
    );
    expect(nodes[1]!.transport.stats()).toMatchObject({ sent: 2, accepted: 2, received: 2 });
    expect(totalDropped(nodes[1]!.transport)).toBe(0);
  });

  it('drops and counts a forged MAC, another cluster, a replay and a wrong recipient', async () => {
    const [a, b] = await cluster([1, 2]);
    const port = b!.transport.address().port;
    const clusterId = clusterIdFromName('demo');
    const genuine = encodeHeartbeat({ clusterId, to: 2, message: heartbeat(1, { incarnation: 7, sequence: 5 }) }, key);
    await rawSend(genuine, port);
    await until(() => b!.received.length === 1);

    await rawSend(genuine, port); // replay
    const forged = encodeHeartbeat({ clusterId, to: 2, message: heartbeat(1, { incarnation: 7, sequence: 6 }) }, randomBytes(32));
    await rawSend(forged, port);
    const foreign = encodeHeartbeat(
      { clusterId: clusterIdFromName('other'), to: 2, message: heartbeat(1, { incarnation: 7, sequence: 7 }) },
      key,
    );
    await rawSend(foreign, port);
    const misdirected = encodeHeartbeat({ clusterId, to: 3, message: heartbeat(1, { incarnation: 7, sequence: 8 }) }, key);
    await rawSend(misdirected, port);
    const stranger = encodeHeartbeat({ clusterId, to: 2, message: heartbeat(9, { incarnation: 7, sequence: 9 }) }, key);
    await rawSend(stranger, port);
    const oldLife = encodeHeartbeat({ clusterId, to: 2, message: heartbeat(1, { incarnation: 6, sequence: 99 }) }, key);
    await rawSend(oldLife, port);

    await until(() => b!.transport.stats().received === 7);
    expect(b!.transport.stats().dropped).toMatchObject({
      replay: 1,
      'bad-mac': 1,
      'wrong-cluster': 1,
      'wrong-recipient': 1,
      'unknown-sender': 1,
      'stale-incarnation': 1,
    });
    expect(b!.received).toHaveLength(1);
    // still working: a fresh heartbeat from the real host gets through
    await a!.transport.send(heartbeat(1));
    await until(() => b!.received.length === 2);
  });

  it('drops garbage, truncated, oversize and wrong-version packets', async () => {
    const [a, b] = await cluster([1, 2]);
    const port = b!.transport.address().port;
    const good = encodeHeartbeat({ clusterId: clusterIdFromName('demo'), to: 2, message: heartbeat(1, { incarnation: 1, sequence: 1 }) }, key);
    const v9 = Buffer.from(good);
    v9[4] = 9;
    await rawSend(Buffer.from('GET / HTTP/1.1\r\n\r\n'), port);
    await rawSend(good.subarray(0, 40), port);
    await rawSend(Buffer.alloc(4000, 0x41), port);
    await rawSend(v9, port);
    await rawSend(Buffer.alloc(0), port);
    await until(() => b!.transport.stats().received === 5);
    expect(b!.transport.stats().dropped).toMatchObject({ malformed: 1, truncated: 2, oversize: 1, 'wrong-version': 1 });
    expect(b!.received).toHaveLength(0);
    await a!.transport.send(heartbeat(1));
    await until(() => b!.received.length === 1);
  });

  it('survives a fuzz loop of random and mutated packets', async () => {
    const [a, b] = await cluster([1, 2]);
    const port = b!.transport.address().port;
    const template = encodeHeartbeat({ clusterId: clusterIdFromName('demo'), to: 2, message: heartbeat(1, { heard: [2] }) }, key);
    const socket = dgram.createSocket('udp4');
    rawSockets.push(socket);
    const count = 2000;
    let state = 0x9e3779b9; // fixed seed: a failure replays exactly
    const random = (n: number) => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return Math.floor((state / 2 ** 32) * n);
    };
    for (let i = 0; i < count; i++) {
      let packet: Buffer;
      if (i % 2 === 0) {
        packet = Buffer.from(Array.from({ length: random(700) }, () => random(256)));
      } else {
        // the genuine packet with 1..4 distinct bytes changed: reaches every decode branch
        packet = Buffer.from(template);
        const offsets = new Set(Array.from({ length: 1 + (i % 4) }, () => random(packet.length)));
        for (const off of offsets) packet[off] = (packet[off] ?? 0) ^ (1 + random(255));
      }
      socket.send(packet, port, '127.0.0.1');
      // wait for the receiver every 100 packets so none is lost to a full socket buffer
      if (i % 100 === 99) await until(() => b!.transport.stats().received === i + 1);
    }
    const stats = b!.transport.stats();
    expect(stats.received).toBe(count);
    expect(stats.accepted).toBe(0);
    expect(totalDropped(b!.transport)).toBe(stats.received);
    await a!.transport.send(heartbeat(1));
    await until(() => b!.received.length === 1);
  });

  it('counts send errors instead of throwing and refuses foreign senders of its own id', async () => {
    const [a] = await cluster([1]);
    a!.transport.setPeers([{ id: 2, address: '127.0.0.1', port: 0 }]);
    await expect(a!.transport.send(heartbeat(1))).resolves.toBeUndefined();
    expect(a!.transport.stats().sendErrors).toBe(1);
    await expect(a!.transport.send(heartbeat(2))).rejects.toThrow(/heartbeat from 2 sent by host 1/);
  });

  it('reports a bind failure as one E_CONFIG line', async () => {
    const [a] = await cluster([1]);
    const port = a!.transport.address().port;
    const attempt = UdpTransport.open({
      cluster: 'demo', selfId: 2, incarnation: 1, bindAddress: '127.0.0.1', bindPort: port,
      peers: [], key, onHeartbeat: () => undefined,
    });
    await expect(attempt).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringContaining('EADDRINUSE') });
  });
});
