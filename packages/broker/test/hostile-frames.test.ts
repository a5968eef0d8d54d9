import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FrameKind, FrameDecoder, decode } from '@squadron/protocol';
import { Connection, connectHandshake, dial } from '@squadron/transport';
import { connect, type Client } from '@squadron/sdk';
import { spawnBroker, silent, waitFor, type BrokerProcess } from '@squadron/testkit';

/** Collect what a raw socket receives until it closes: the frames, and whether it closed. */
function watchRaw(socket: net.Socket): { kinds: number[]; goaway: unknown[]; closed: () => boolean } {
  const decoder = new FrameDecoder();
  const kinds: number[] = [];
  const goaway: unknown[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => decoder.push(chunk, (kind, _id, body) => {
    kinds.push(kind);
    if (kind === FrameKind.Goaway) goaway.push(decode(body));
  }));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  return { kinds, goaway, closed: () => closed };
}

describe('hostile input at the broker', () => {
  let broker: BrokerProcess;
  let healthy: Client;
  const got: unknown[] = [];

  before(async () => {
    broker = await spawnBroker('sto');
    healthy = await connect({ site: 'sto', broker: broker.address, logger: silent });
    healthy.subscribe('ping', (m) => { got.push(m); });
    await healthy.flush();
  });

  after(async () => {
    await healthy.close();
    await broker.kill();
  });

  async function assertHealthyStillWorks(n: number): Promise<void> {
    healthy.publish('ping', { n });
    await waitFor(() => got.some((m) => (m as { n: number }).n === n), `message ${n} to the healthy client`);
  }

  it('closes a connection that sends garbage after the handshake, and only that one', async () => {
    const conn = new Connection(await dial(broker.address));
    await connectHandshake(conn, { role: 'client', site: 'sto', name: 'garbage' });
    const raw = watchRaw(conn.socket);
    conn.socket.write(Buffer.from([0, 0, 0, 9, 0xee, 0, 0, 0, 0, 1, 2, 3, 4]));
    await waitFor(() => raw.closed(), 'the broker to close the bad connection');
    assert.equal((raw.goaway[0] as string[])[0], 'PROTOCOL_ERROR');
    await assertHealthyStillWorks(1);
  });

  it('refuses an oversized frame from its length prefix alone', async () => {
    const socket = await dial(broker.address);
    const raw = watchRaw(socket);
    await waitFor(() => raw.kinds.includes(FrameKind.Hello), 'hello');
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(64 * 1024 * 1024);
    socket.write(prefix); // claims 64 MiB; not one byte of it follows
    await waitFor(() => raw.closed(), 'the broker to close the connection');
    assert.match(String((raw.goaway[0] as string[])[1]), /exceeds the limit/);
    await assertHealthyStillWorks(2);
  });

  it('accepts nothing before the handshake', async () => {
    const socket = await dial(broker.address);
    const raw = watchRaw(socket);
    const publish = Buffer.from([0, 0, 0, 5, FrameKind.Publish, 0, 0, 0, 0]);
    socket.write(publish);
    await waitFor(() => raw.closed(), 'the broker to close the connection');
    assert.equal((raw.goaway[0] as string[])[0], 'PROTOCOL_ERROR');
    await assertHealthyStillWorks(3);
  });

  it('closes a connection that never completes the handshake', async () => {
    const socket = await dial(broker.address);
    const raw = watchRaw(socket);
    await waitFor(() => raw.closed(), 'the handshake timeout', 5000);
    assert.match(String((raw.goaway[0] as string[])[1]), /handshake not completed/);
  });
});
