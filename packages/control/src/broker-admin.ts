import { FrameKind, decode, encode, TimeoutError } from '@squadron/protocol';
import { Connection, connectHandshake, dial } from '@squadron/transport';
import type { BrokerStats } from '@squadron/broker';

/** Ask a broker for its stats over a short-lived control connection. */
export async function queryBroker(address: string, timeoutMs = 2000): Promise<BrokerStats> {
  const socket = await dial(address, timeoutMs);
  const conn = new Connection(socket);
  try {
    await connectHandshake(conn, { role: 'control', site: 'control', name: 'control' }, timeoutMs);
    return await new Promise<BrokerStats>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`broker at ${address} did not answer within ${timeoutMs} ms`)), timeoutMs);
      conn.onClose((err) => {
        clearTimeout(timer);
        reject(err);
      });
      conn.onFrame = (kind, id, body) => {
        if (kind === FrameKind.Ping) return conn.send(FrameKind.Pong, id);
        if (kind !== FrameKind.Reply || id !== 1) return;
        clearTimeout(timer);
        resolve(decode(body) as BrokerStats);
      };
      conn.send(FrameKind.Query, 1, encode({ what: 'stats' }));
    });
  } finally {
    conn.close('CLOSED', 'done');
  }
}
