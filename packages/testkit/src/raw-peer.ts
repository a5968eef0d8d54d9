import { FrameKind, FrameDecoder, decode, errorFromWire, type AuthBody, type SquadronError } from '@squadron/protocol';
import { Connection, connectHandshake, dial } from '@squadron/transport';
import type { Identity } from '@squadron/identity';
import { waitFor } from './wait.ts';

/** A frame a raw peer received. */
export interface RawFrame {
  kind: number;
  id: number;
  body: Buffer;
}

/**
 * A connection that speaks the wire protocol frame by frame, as a hostile peer would: it
 * completes the handshake with whatever claims (and credential) it is given, then sends any
 * frame it likes and records every frame it gets back.
 */
export interface RawPeer {
  conn: Connection;
  frames: RawFrame[];
  /** Send one frame whose body is `value` encoded (or raw bytes). */
  send(kind: number, id: number, value?: unknown): void;
  /** Send a frame and wait for the Reply or ErrorReply with its id: the value, or the typed error. */
  request(kind: number, id: number, value: unknown, timeoutMs?: number): Promise<{ ok: true; value: unknown } | { ok: false; error: SquadronError }>;
  /** The Goaway the other side sent before closing, as [code, message], or null. */
  goaway(): [string, string] | null;
  closed(): boolean;
  /** Wait until the other side closed the connection; its Goaway. */
  closedWith(timeoutMs?: number): Promise<[string, string] | null>;
  close(): void;
}

/** Connect to a broker or an instance and complete the handshake with these claims. */
export async function rawPeer(address: string, claims: Omit<AuthBody, 'version'>, identity?: Identity): Promise<RawPeer> {
  const socket = await dial(address);
  const conn = new Connection(socket);
  // Every frame is recorded from the socket itself, so that none is missed between the end of the
  // handshake and this peer's own handler (a Goaway sent right after Ready, say).
  const frames: RawFrame[] = [];
  let closed = false;
  let goaway: [string, string] | null = null;
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => decoder.push(chunk, (kind, id, body) => {
    frames.push({ kind, id, body: Buffer.from(body) });
    if (kind === FrameKind.Goaway) goaway = decode(body) as [string, string];
  }));
  conn.onClose(() => (closed = true));
  await connectHandshake(conn, identity ? (hello) => ({ ...claims, ...identity.prove(hello.nonce) }) : claims);
  conn.onFrame = (kind, id) => {
    if (kind === FrameKind.Ping) conn.send(FrameKind.Pong, id);
  };
  const peer: RawPeer = {
    conn,
    frames,
    send: (kind, id, value) => (Buffer.isBuffer(value) ? conn.send(kind, id, value) : value === undefined ? conn.send(kind, id) : conn.sendValue(kind, id, value)),
    async request(kind, id, value, timeoutMs = 5000) {
      const from = frames.length;
      peer.send(kind, id, value);
      let answer: RawFrame | undefined;
      await waitFor(() => {
        answer = frames.slice(from).find((f) => f.id === id && (f.kind === FrameKind.Reply || f.kind === FrameKind.ErrorReply));
        return answer !== undefined || closed;
      }, `an answer to frame ${id}`, timeoutMs, 5);
      if (!answer) throw new Error(`the connection closed before answering frame ${id}: ${JSON.stringify(goaway)}`);
      return answer.kind === FrameKind.Reply ? { ok: true, value: decode(answer.body) } : { ok: false, error: errorFromWire(decode(answer.body)) };
    },
    goaway: () => goaway,
    closed: () => closed,
    async closedWith(timeoutMs = 5000) {
      await waitFor(() => closed, 'the other side to close the connection', timeoutMs, 5);
      return goaway;
    },
    close: () => conn.destroy(),
  };
  return peer;
}
