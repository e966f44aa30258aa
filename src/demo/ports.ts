// Free ports on this machine for the local clusters of the demo and the tests (bound and
// released: good enough on loopback, where nothing else races for them).
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** A free TCP port on `address` (default 127.0.0.1). */
export function freeTcpPort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const bound = server.address();
      const port = typeof bound === 'object' && bound !== null ? bound.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A free UDP port on `address`. */
export async function freeUdpPort(address: string): Promise<number> {
  const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((res, rej) => {
    socket.once('error', rej);
    socket.bind(0, address, () => res());
  });
  const { port } = socket.address();
  await new Promise<void>((res) => socket.close(() => res()));
  return port;
}
