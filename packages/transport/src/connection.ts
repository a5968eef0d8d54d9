import type net from 'node:net';
import {
  FrameDecoder, FrameWriter, FrameKind, encode, encodeTransient, DEFAULT_LIMITS, ProtocolError, ConnectionLostError, SquadronError,
  type WireLimits, type HelloBody,
} from '@squadron/protocol';

export type FrameListener = (kind: number, id: number, body: Buffer) => void;

export interface ConnectionOptions {
  limits?: WireLimits;
  /**
   * Bytes queued for a peer that does not read. Past this the connection is closed: a slow reader
   * never costs unbounded memory. Senders that may drop (pub/sub) check `backlog` first.
   */
  maxBacklogBytes?: number;
}

export const DEFAULT_MAX_BACKLOG_BYTES = 16 * 1024 * 1024;

/**
 * One framed, multiplexed connection over a socket. Frames written in one event-loop turn leave
 * in one `write`. A malformed or oversized frame from the peer closes this connection alone, with
 * a Goaway that says why.
 */
export class Connection {
  readonly socket: net.Socket;
  /** The Hello that opened this connection (both sides keep it): a renewed credential is proven over its nonce. */
  hello: HelloBody | null = null;
  /** Called for every frame. Replace it to move between handshake and session. */
  onFrame: FrameListener = () => {};
  private readonly decoder: FrameDecoder;
  private readonly writer = new FrameWriter();
  private readonly maxBacklog: number;
  private flushScheduled = false;
  private closeError: Error | null = null;
  private readonly closeListeners: Array<(err: Error) => void> = [];
  private _closed = false;

  constructor(socket: net.Socket, options: ConnectionOptions = {}) {
    this.socket = socket;
    this.decoder = new FrameDecoder(options.limits ?? DEFAULT_LIMITS);
    this.maxBacklog = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(this.closeError ?? new ConnectionLostError('connection closed by peer', true)));
  }

  get closed(): boolean {
    return this._closed;
  }

  /** Bytes written but not yet taken by the kernel. */
  get backlog(): number {
    return this.writer.pendingBytes + this.socket.writableLength;
  }

  get remote(): string {
    return this.socket.remoteAddress ? `${this.socket.remoteAddress}:${this.socket.remotePort}` : 'unix';
  }

  send(kind: number, id: number, body?: Uint8Array): void {
    if (this._closed) return;
    this.writer.frame(kind, id, body);
    this.scheduleFlush();
  }

  sendValue(kind: number, id: number, value: unknown): void {
    this.send(kind, id, encodeTransient(value));
  }

  /** A Publish, Message or Forward frame (see the protocol's envelope layout). */
  sendEnvelope(kind: number, id: number, topic: Uint8Array, traceId: string, group: Uint8Array, payload: Uint8Array): void {
    if (this._closed) return;
    this.writer.envelope(kind, id, topic, traceId, group, payload);
    this.scheduleFlush();
  }

  /** Send a final Goaway, then close once it is written. */
  close(code = 'CLOSED', message = 'closing'): void {
    if (this._closed) return;
    this.writer.frame(FrameKind.Goaway, 0, encode([code, message]));
    this.flush();
    this.closeError = new ConnectionLostError(message, true);
    this.socket.end();
    // A peer that never reads must not hold the socket open.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  destroy(err?: Error): void {
    if (err) this.closeError = err;
    this.socket.destroy();
  }

  /** Called once, with the reason, when the connection closes for any cause. */
  onClose(listener: (err: Error) => void): void {
    if (this._closed) listener(this.closeError ?? new ConnectionLostError('closed', true));
    else this.closeListeners.push(listener);
  }

  /** Write everything queued now, without waiting for the end of the turn. */
  flush(): void {
    this.flushScheduled = false;
    const bytes = this.writer.take();
    if (bytes === null || this.socket.destroyed) return;
    this.socket.write(bytes);
    // Written through to the kernel at once (the usual case): the buffer is free again.
    if (this.socket.writableLength === 0) this.writer.recycle(bytes);
    else if (this.socket.writableLength > this.maxBacklog) {
      this.destroy(new ConnectionLostError(`peer ${this.remote} is too slow: ${this.socket.writableLength} bytes unread`, true));
    }
  }

  // Before the event loop goes back to I/O, so no latency is added; frames sent in the same
  // callback, or by the promise continuations it set off, leave together (at most two writes).
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(this.flushBound);
  }

  private readonly flushBound = () => this.flush();

  /**
   * Each frame goes to the handler set when it is decoded, not when its chunk arrived: a handler
   * that replaces itself (the handshake's, once Ready is in) must not see the frames after it
   * in the same chunk.
   */
  private readonly dispatch: FrameListener = (kind, id, body) => this.onFrame(kind, id, body);

  private receive(chunk: Buffer): void {
    if (this._closed) return;
    try {
      this.decoder.push(chunk, this.dispatch);
    } catch (err) {
      this.protocolViolation(err);
    }
  }

  /**
   * Close with a Goaway naming the violation, or the typed refusal that ends the connection (a
   * failed authentication, a frame its sender may not send); only this connection is affected.
   */
  protocolViolation(err: unknown): void {
    const e = err instanceof SquadronError ? err : new ProtocolError(`internal error handling a frame: ${(err as Error).message}`, { cause: err });
    if (this._closed) return;
    // An AUTH_FAILED Goaway says which check failed (details.reason), so the peer can act on it.
    this.writer.frame(FrameKind.Goaway, 0, encode(e.details ? [e.code, e.message, e.details] : [e.code, e.message]));
    this.flush();
    this.closeError = e;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 200).unref();
    this.socket.pause();
  }

  private fail(err: Error): void {
    if (this._closed) return;
    this._closed = true;
    this.closeError ??= err;
    if (!this.socket.destroyed) this.socket.destroy();
    for (const listener of this.closeListeners.splice(0)) listener(this.closeError);
  }
}
