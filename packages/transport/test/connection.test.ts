/**
 * Connection and the handshake over real sockets on 127.0.0.1: coalesced writes, and every way a
 * peer can misbehave (malformed frames, oversized prefixes, frames before the handshake,
 * silence, not reading) closing that peer's connection alone, with a Goaway saying why.
 */
import { describe, it, before, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { FrameKind, FrameWriter, FrameDecoder, ProtocolError, ConnectionLostError, ErrorCode, PROTOCOL_VERSION, encode, decode } from '@squadron/protocol';
import { Connection, connectHandshake, dial } from '../src/index.ts';
import {
  RawClient, AUTH, startServer, connectClient, echo, waitFor, serverClosed, type TestServer, type ServerSide,
} from './harness.ts';

describe('Connection over TCP', () => {
  let server: TestServer;
  before(async () => { server = await startServer(); });
  after(() => server.close());

  /** The server side of the connection most recently accepted. */
  const newestSide = (): ServerSide => server.sides[server.sides.length - 1]!;

  it('(a) delivers many frames sent in one turn in order, in a single socket write', async () => {
    const client = await connectClient(server.port);
    try {
      const N = 5000;
      const replies: number[] = [];
      const mismatches: string[] = [];
      client.onFrame = (kind, id, body) => {
        if (kind !== FrameKind.Reply || decode(body) !== id) mismatches.push(`kind ${kind} id ${id}`);
        else replies.push(id);
      };
      const write = mock.method(client.socket, 'write');
      for (let id = 1; id <= N; id++) client.sendValue(FrameKind.Request, id, id);
      await waitFor(() => replies.length + mismatches.length === N, `${N} replies`);
      assert.deepEqual(mismatches, [], 'frames that are not the echo of their request');
      assert.equal(write.mock.callCount(), 1, 'frames of one turn left in more than one write');
      write.mock.restore();
      const expected = Array.from({ length: N }, (_, i) => i + 1);
      assert.deepEqual(newestSide().received.map((f) => f.id), expected, 'the server received them out of order');
      assert.deepEqual(replies, expected, 'replies arrived out of order');
    } finally {
      client.destroy();
    }
  });

  it('(a) keeps frames intact and in order across many turns, while write buffers are reused', async () => {
    const client = await connectClient(server.port);
    try {
      const turns = 200;
      const perTurn = 40;
      const got: Array<[number, unknown]> = [];
      client.onFrame = (_kind, id, body) => got.push([id, decode(body)]);
      const expected: Array<[number, string]> = [];
      for (let t = 0; t < turns; t++) {
        for (let i = 0; i < perTurn; i++) {
          const id = t * perTurn + i;
          const text = String.fromCharCode(97 + (id % 26)).repeat(1 + (id % 700)); // sizes vary, so frames straddle buffers
          client.sendValue(FrameKind.Request, id, text);
          expected.push([id, text]);
        }
        await new Promise((resolve) => setImmediate(resolve)); // end the turn: one flush per turn
      }
      // A buffer reused while still being written corrupts the stream: the server then hangs up.
      await waitFor(() => got.length === expected.length || client.closed, `${expected.length} replies`);
      assert.equal(client.closed, false, 'the server closed the connection');
      assert.deepEqual(got, expected);
    } finally {
      client.destroy();
    }
  });

  it('(b) closes a connection that sends a malformed frame with a PROTOCOL_ERROR Goaway; others keep working', async () => {
    const good = await connectClient(server.port);
    const clients: RawClient[] = [];
    try {
      assert.equal(await echo(good, 1, 'before'), 'before');

      // An unknown frame kind after a completed handshake.
      const unknownKind = await RawClient.connect(server.port);
      clients.push(unknownKind);
      await unknownKind.handshake();
      const unknownSide = newestSide();
      unknownKind.send(99, 0, Buffer.from([1, 2, 3]));
      await waitFor(() => unknownKind.closed, 'the connection with an unknown frame kind to close');
      assert.deepEqual(unknownKind.goaway(), [ErrorCode.PROTOCOL_ERROR, 'unknown frame kind unknown(99)']);
      await serverClosed(unknownSide);
      assert.ok(unknownSide.closeError instanceof ProtocolError);

      // Auth bodies that are cut-off msgpack, and msgpack that is no Auth (0xc1 decodes to a marker).
      const badAuths: Array<[Buffer, RegExp]> = [[encode(AUTH).subarray(0, -3), /malformed msgpack/], [Buffer.from([0xc1]), /malformed auth/]];
      for (const [body, why] of badAuths) {
        const badAuth = await RawClient.connect(server.port);
        clients.push(badAuth);
        await waitFor(() => badAuth.has(FrameKind.Hello), 'Hello');
        const badAuthSide = newestSide();
        badAuth.send(FrameKind.Auth, 0, body);
        await waitFor(() => badAuth.closed, 'the connection with a malformed Auth to close');
        const [code, message] = badAuth.goaway() ?? [];
        assert.equal(code, ErrorCode.PROTOCOL_ERROR);
        assert.match(message ?? '', why);
        await serverClosed(badAuthSide);
        assert.ok(badAuthSide.handshakeError instanceof ProtocolError);
        assert.equal(badAuthSide.auth, null, 'a malformed Auth was accepted');
      }

      // The well-behaved connection never noticed; new connections are still accepted.
      assert.equal(good.closed, false);
      assert.equal(await echo(good, 2, 'after'), 'after');
      const fresh = await connectClient(server.port);
      assert.equal(await echo(fresh, 3, 'fresh'), 'fresh');
      fresh.destroy();
    } finally {
      good.destroy();
      for (const c of clients) c.destroy();
    }
  });

  it('(c) closes a connection on an oversized length prefix without waiting for the body', async () => {
    const client = await RawClient.connect(server.port);
    try {
      await client.handshake();
      const side = newestSide();
      const readBefore = side.conn.socket.bytesRead;
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(50 * 1024 * 1024);
      client.socket.write(prefix);
      await waitFor(() => client.closed, 'the server to close the connection');
      const [code, message] = client.goaway() ?? [];
      assert.equal(code, ErrorCode.PROTOCOL_ERROR);
      assert.match(message ?? '', /exceeds the limit/);
      await serverClosed(side);
      assert.equal(side.conn.socket.bytesRead - readBefore, 4, 'the server read more than the prefix');
      assert.ok(side.closeError instanceof ProtocolError);
    } finally {
      client.destroy();
    }
  });

  it('(d) closes a client that sends a Request before completing the handshake', async () => {
    const client = await RawClient.connect(server.port);
    try {
      await waitFor(() => client.has(FrameKind.Hello), 'Hello');
      const side = newestSide();
      // The Auth right behind it in the same write does not rescue the connection.
      const writer = new FrameWriter();
      writer.frame(FrameKind.Request, 1, encode(['echo', Date.now() + 5000, 'trace', 1]));
      writer.frame(FrameKind.Auth, 0, encode(AUTH));
      client.socket.write(writer.take()!);
      await waitFor(() => client.closed, 'the server to close the connection');
      assert.deepEqual(client.goaway(), [ErrorCode.PROTOCOL_ERROR, 'no frame is accepted before the handshake completes']);
      assert.equal(client.has(FrameKind.Ready), false, 'Ready was sent');
      await serverClosed(side);
      assert.ok(side.handshakeError instanceof ProtocolError);
      assert.deepEqual(side.received, [], 'the session saw a frame');
    } finally {
      client.destroy();
    }
  });
});

describe('Connection limits', () => {
  it('(e) closes a client that never speaks once the handshake timeout passes', async () => {
    const server = await startServer({ handshakeTimeoutMs: 200 });
    const client = await RawClient.connect(server.port);
    try {
      const start = Date.now();
      await waitFor(() => client.closed, 'the silent client to be closed', 3000);
      const elapsed = Date.now() - start;
      assert.ok(elapsed >= 150, `closed after ${elapsed} ms, before the 200 ms timeout`);
      assert.ok(client.has(FrameKind.Hello));
      assert.deepEqual(client.goaway(), [ErrorCode.PROTOCOL_ERROR, 'handshake not completed within 200 ms']);
      await serverClosed(server.sides[0]!);
      assert.ok(server.sides[0]!.handshakeError instanceof ProtocolError);
    } finally {
      client.destroy();
      await server.close();
    }
  });

  it('(f) disconnects a peer that does not read once its backlog passes maxBacklogBytes', async () => {
    const maxBacklogBytes = 256 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 7);
    let maxSeen = 0;
    let sent = 0;
    const server = await startServer({
      connection: { maxBacklogBytes },
      session: (conn) => {
        conn.onFrame = (kind, id) => {
          if (kind !== FrameKind.Request) return;
          const pump = (): void => {
            if (conn.closed) return;
            maxSeen = Math.max(maxSeen, conn.backlog);
            conn.send(FrameKind.Reply, id, chunk);
            sent += chunk.length;
            setImmediate(pump);
          };
          pump();
        };
      },
    });
    let client: Connection | null = null;
    try {
      client = await connectClient(server.port);
      client.socket.pause(); // never reads again
      client.sendValue(FrameKind.Request, 1, 'flood');
      const side = server.sides[0]!;
      await waitFor(() => side.conn.closed, 'the server to drop the slow reader', 10_000);
      assert.ok(side.closeError instanceof ConnectionLostError);
      assert.match(side.closeError.message, /too slow/);
      // What stayed queued in the server never went past the cap by more than one frame.
      assert.ok(maxSeen <= maxBacklogBytes + chunk.length + 9, `backlog reached ${maxSeen} bytes`);
      assert.ok(sent > maxBacklogBytes, 'the server stopped before filling the backlog');
      assert.ok(side.conn.socket.destroyed);
    } finally {
      client?.destroy();
      await server.close();
    }
  });

  it('(g) completes a handshake whose Ready arrives in one chunk with the frames after it', async () => {
    // A raw server that answers Auth with Ready and a Ping in a single write, as a broker whose
    // heartbeat fires at that moment does. Those frames are not the handshake's to judge.
    const sockets: net.Socket[] = [];
    const raw = net.createServer((socket) => {
      sockets.push(socket);
      const out = new FrameWriter();
      out.frame(FrameKind.Hello, 0, encode({ version: PROTOCOL_VERSION, nonce: 'n', site: 'sto', server: 'broker' }));
      socket.write(out.take()!);
      const decoder = new FrameDecoder();
      socket.on('data', (chunk: Buffer) => decoder.push(chunk, (kind) => {
        if (kind !== FrameKind.Auth) return;
        const w = new FrameWriter();
        w.frame(FrameKind.Ready, 0, encode({ sites: ['sto'] }));
        w.frame(FrameKind.Ping, 7);
        socket.write(w.take()!);
        setTimeout(() => {
          const later = new FrameWriter();
          later.frame(FrameKind.Ping, 8);
          socket.write(later.take()!);
        }, 20);
      }));
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const { port } = raw.address() as net.AddressInfo;
    try {
      const conn = new Connection(await dial({ kind: 'tcp', host: '127.0.0.1', port }));
      await connectHandshake(conn, AUTH);
      const seen: number[] = [];
      conn.onFrame = (kind, id) => { if (kind === FrameKind.Ping) seen.push(id); };
      await waitFor(() => seen.includes(8), 'the Ping sent after the handshake');
      assert.equal(conn.closed, false, 'the connection is still open');
      conn.destroy();
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => raw.close(resolve));
    }
  });
});
