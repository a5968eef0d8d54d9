import { createServer } from 'node:net';

/**
 * A TCP port free on 127.0.0.1 now (or `port` itself when it is free), for a server started a
 * moment later: PostgreSQL takes its port on the command line, so port 0 cannot be used.
 */
export function freeLoopbackPort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(port, '127.0.0.1', () => {
      const { port: bound } = probe.address() as { port: number };
      probe.close(() => resolve(bound));
    });
  });
}

/** `port` when it is still free, else another free one (a restart after something took it). */
export async function keepOrReplacePort(port: number): Promise<number> {
  try {
    return await freeLoopbackPort(port);
  } catch {
    return freeLoopbackPort(0);
  }
}
