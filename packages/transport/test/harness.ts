/**
 * A real server on 127.0.0.1 (net.Server + Connection + acceptHandshake, as the broker does), a
 * well-behaved client, a raw client that writes whatever bytes a test wants, and `waitFor`.
 */
import net from 'node:net';
import {
  FrameDecoder, FrameWriter, FrameKind, ProtocolError, PROTOCOL_VERSION, encode, decode, type AuthBody,
} from '@squadron/protocol';
import { Connection, acceptHandshake, connectHandshake, dial, type ConnectionOptions } from '../src/index.ts';

/** Poll `cond` every few milliseconds until it holds; fail once `timeoutMs` has passed. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The server's view of one accepted connection. */
export interface ServerSide {
  conn: Connection;
  auth: AuthBody | null;
  handshakeError: unknown;
  closeError: Error | null;
  /** Frames the session handler received, in order. */
  received: Array<{ kind: number; id: number }>;
}

/**
 * Wait until the server's side of a connection has closed. A client may see its socket close
 * first: the server pauses a violating socket and lets it go on its own timer.
 */
export function serverClosed(side: ServerSide): Promise<void> {
  return waitFor(() => side.closeError !== null, 'the server side of the connection to close');
}

export type Session = (conn: Connection, side: ServerSide) => void;

/** Answers Request with a Reply echoing the body and Ping with Pong; refuses anything else. */
export const echoSession: Session = (conn, side) => {
  conn.onFrame = (kind, id, body) => {
    side.received.push({ kind, id });
    if (kind === FrameKind.Request) conn.send(FrameKind.Reply, id, body);
    else if (kind === FrameKind.Ping) conn.send(FrameKind.Pong, id);
    else throw new ProtocolError(`the test server does not take frames of kind ${kind}`);
  };
};

export interface TestServer {
  port: number;
  sides: ServerSide[];
  close(): Promise<void>;
}

export async function startServer(options: {
  handshakeTimeoutMs?: number;
  connection?: ConnectionOptions;
  session?: Session;
} = {}): Promise<TestServer> {
  const sides: ServerSide[] = [];
  const server = net.createServer((socket) => {
    const conn = new Connection(socket, options.connection);
    const side: ServerSide = { conn, auth: null, handshakeError: null, closeError: null, received: [] };
    sides.push(side);
    conn.onClose((err) => { side.closeError = err; });
    acceptHandshake(conn, { site: 'test', server: 'broker', sites: () => ['test'], timeoutMs: options.handshakeTimeoutMs })
      .then((auth) => {
        side.auth = auth;
        (options.session ?? echoSession)(conn, side);
      }, (err: unknown) => { side.handshakeError = err; });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    sides,
    async close() {
      for (const s of sides) s.conn.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client that completed the handshake. */
export async function connectClient(port: number): Promise<Connection> {
  const conn = new Connection(await dial({ kind: 'tcp', host: '127.0.0.1', port }));
  await connectHandshake(conn, { role: 'client', site: 'test', name: 'test-client' });
  return conn;
}

/** Send a Request to the echo session and resolve with the payload its Reply carries back. */
export function echo(conn: Connection, id: number, payload: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    conn.onFrame = (kind, replyId, body) => {
      if (kind === FrameKind.Reply && replyId === id) resolve((decode(body) as unknown[])[3]);
    };
    conn.onClose(reject);
    conn.sendValue(FrameKind.Request, id, ['echo', Date.now() + 5000, 'trace', payload]);
  });
}

export interface RawFrame {
  kind: number;
  id: number;
  body: Buffer;
}

export const AUTH: AuthBody = { version: PROTOCOL_VERSION, role: 'client', site: 'test', name: 'raw' };

/** A socket with a frame decoder on its input and nothing checked on its output. */
export class RawClient {
  readonly frames: RawFrame[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder();

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk, (kind, id, body) => this.frames.push({ kind, id, body })));
    socket.on('close', () => { this.closed = true; });
    socket.on('error', () => { /* a reset by the server is expected in these tests */ });
  }

  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await dial({ kind: 'tcp', host: '127.0.0.1', port }));
  }

  has(kind: number): boolean {
    return this.frames.some((f) => f.kind === kind);
  }

  /** The `[code, message]` of the Goaway received, if any. */
  goaway(): [string, string] | null {
    const frame = this.frames.find((f) => f.kind === FrameKind.Goaway);
    return frame ? (decode(frame.body) as [string, string]) : null;
  }

  send(kind: number, id: number, body?: Uint8Array): void {
    const writer = new FrameWriter();
    writer.frame(kind, id, body);
    this.socket.write(writer.take()!);
  }

  /** Wait for Hello, answer Auth, wait for Ready. */
  async handshake(): Promise<void> {
    await waitFor(() => this.has(FrameKind.Hello), 'Hello');
    this.send(FrameKind.Auth, 0, encode(AUTH));
    await waitFor(() => this.has(FrameKind.Ready), 'Ready');
  }

  destroy(): void {
    this.socket.destroy();
  }
}
