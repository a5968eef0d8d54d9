import { FrameKind, decode, encode, errorFromWire, TimeoutError, UnavailableError } from '@squadron/protocol';
import { Connection, connectHandshake, dial } from '@squadron/transport';
import type { BrokerStats } from '@squadron/broker';
import type { Identity } from '@squadron/identity';

/** Ask a broker for its stats over a short-lived control connection (proving `identity` where brokers check). */
export function queryBroker(address: string, timeoutMs = 2000, identity?: Identity | null): Promise<BrokerStats> {
  return askBroker<BrokerStats>(address, { what: 'stats' }, timeoutMs, identity);
}

/** Send a broker one query (stats, queues, dlq, replay) and return its answer. */
export async function askBroker<T>(address: string, query: Record<string, unknown>, timeoutMs = 2000, identity?: Identity | null): Promise<T> {
  const socket = await dial(address, timeoutMs).catch((err: Error) => {
    throw new UnavailableError(`the broker at ${address} cannot be reached (${err.message}): is its site running? squadron status shows the brokers`);
  });
  const conn = new Connection(socket);
  try {
    const auth = { role: 'control' as const, site: 'control', name: 'control' };
    await connectHandshake(conn, identity ? (hello) => ({ ...auth, ...identity.prove(hello.nonce) }) : auth, timeoutMs);
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`broker at ${address} did not answer within ${timeoutMs} ms`)), timeoutMs);
      conn.onClose((err) => {
        clearTimeout(timer);
        reject(err);
      });
      conn.onFrame = (kind, id, body) => {
        if (kind === FrameKind.Ping) return conn.send(FrameKind.Pong, id);
        if ((kind !== FrameKind.Reply && kind !== FrameKind.ErrorReply) || id !== 1) return;
        clearTimeout(timer);
        if (kind === FrameKind.ErrorReply) reject(errorFromWire(decode(body)));
        else resolve(decode(body) as T);
      };
      conn.send(FrameKind.Query, 1, encode(query));
    });
  } finally {
    conn.close('CLOSED', 'done');
  }
}
