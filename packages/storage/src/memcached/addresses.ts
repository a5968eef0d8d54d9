import { createConnection, createServer } from 'node:net';

/**
 * One command of memcached's text protocol on a fresh connection, for health checks and
 * inspection (`version`, `stats`, `stats settings`); handlers use the client, not this.
 * Resolves with the reply's lines (without the closing `END`), or rejects on a timeout, a refused
 * connection or an `ERROR` reply.
 *
 * @example await memcachedCommand('127.0.0.1:41211', 'version') // ['VERSION 1.6.18']
 */
export function memcachedCommand(address: string, command: string, timeoutMs = 500): Promise<string[]> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve, reject) => {
    let buffer = '';
    const socket = createConnection({ host, port });
    const done = (err: Error | null, lines?: string[]) => {
      socket.destroy();
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(lines ?? []);
    };
    const timer = setTimeout(() => done(new Error(`memcached at ${address} did not answer '${command}' within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('error', (err) => done(err));
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (!buffer.endsWith('\r\n')) return;
      const lines = buffer.slice(0, -2).split('\r\n');
      const last = lines[lines.length - 1] ?? '';
      // `version` answers one line; `stats` answers many closed by END.
      if (last === 'END') done(null, lines.slice(0, -1));
      else if (/^(CLIENT_|SERVER_)?ERROR/.test(last)) done(new Error(`memcached at ${address} refused '${command}': ${last}`));
      else if (!command.startsWith('stats')) done(null, lines);
    });
  });
}

/** `STAT name value` lines as a record. */
export function parseStats(lines: string[]): Record<string, string> {
  const stats: Record<string, string> = {};
  for (const line of lines) {
    const [tag, name, ...value] = line.split(' ');
    if (tag === 'STAT' && name) stats[name] = value.join(' ');
  }
  return stats;
}

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
