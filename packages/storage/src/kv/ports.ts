import { createServer, type Server } from 'node:net';

/**
 * Ports for a resource's servers. Each site keeps its port for life (it is in the credentials
 * every client holds), so ports are picked once, free at the time, and checked again at start.
 */

function bind(port: number, host: string): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** `count` distinct ports free on `host` now (all held at once while picking, so none repeats). */
export async function freePorts(count: number, host: string): Promise<number[]> {
  const held: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = await bind(0, host);
      if (!server) throw new Error(`cannot bind a port on ${host}`);
      held.push(server);
    }
    return held.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(held.map(close));
  }
}

/** Whether `port` can be bound on `host` now. */
export async function portFree(port: number, host: string): Promise<boolean> {
  const server = await bind(port, host);
  if (!server) return false;
  await close(server);
  return true;
}
