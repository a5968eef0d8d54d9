import net from 'node:net';

/** A listen or dial address: `tcp://host:port` or `unix:///path/to.sock`. */
export type Endpoint = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseEndpoint(address: string): Endpoint {
  if (address.startsWith('unix://')) return { kind: 'unix', path: address.slice('unix://'.length) };
  const m = /^(?:tcp:\/\/)?(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(address);
  if (!m) throw new TypeError(`not an address: '${address}' (expected tcp://host:port or unix:///path)`);
  const port = Number(m[2]);
  if (port < 0 || port > 65535) throw new TypeError(`port out of range in '${address}'`);
  return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function formatEndpoint(e: Endpoint): string {
  if (e.kind === 'unix') return `unix://${e.path}`;
  return `tcp://${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/** The address a listening server actually got (port 0 resolved). */
export function boundEndpoint(server: net.Server, requested: Endpoint): Endpoint {
  const a = server.address();
  if (requested.kind === 'unix' || a === null || typeof a === 'string') return requested;
  return { kind: 'tcp', host: requested.host, port: a.port };
}

/** Open a socket to an endpoint; resolves once connected. */
export function dial(address: string | Endpoint, timeoutMs = 2000): Promise<net.Socket> {
  const e = typeof address === 'string' ? parseEndpoint(address) : address;
  return new Promise((resolve, reject) => {
    const socket = e.kind === 'unix' ? net.connect(e.path) : net.connect(e.port, e.host);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connect to ${formatEndpoint(e)} timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Listen on an endpoint; resolves with the bound endpoint. */
export function listen(server: net.Server, e: Endpoint): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve(boundEndpoint(server, e));
    };
    if (e.kind === 'unix') server.listen(e.path, done);
    else server.listen(e.port, e.host, done);
  });
}
