import { createServer } from 'node:net';

/** `host:port` as its parts; throws on anything else. */
export function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new RangeError(`'${address}' is not a host:port address`);
  }
  return { host: address.slice(0, at), port };
}

/** A TCP port free on `host` now (the OS picks it); the caller binds it soon after. */
export function freeLocalPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
