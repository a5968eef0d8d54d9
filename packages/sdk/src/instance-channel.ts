import {
  FrameKind, decodePayload, encodeTransient, errorFromWire, maxFrameLength, ConnectionLostError, PayloadTooLargeError, AuthFailedError, BadRequestError,
  DEFAULT_LIMITS, FRAME_HEADER_BYTES, type WireLimits,
} from '@squadron/protocol';
import { Connection, connectHandshake, dial, sendReauth, type AuthSource } from '@squadron/transport';
import { PendingCalls } from './pending-calls.ts';
import type { PayloadFailures } from './payload-failures.ts';

/** A call as a channel carries it: what to send and where the outcome goes. */
export interface ChannelCall {
  readonly method: string;
  readonly deadline: number;
  readonly traceId: string;
  readonly payload: unknown;
  /** The channel the call waits on, and its request id there; set by the channel. */
  channel: InstanceChannel | null;
  id: number;
  replied(value: unknown): void;
  failed(err: Error): void;
}

/**
 * The caller's one connection to one callee instance. Requests are multiplexed on it by id and
 * go straight to the instance: no broker on the path. It connects on first use; calls made while
 * it connects wait, and fail as never sent if the connection cannot be made.
 */
export class InstanceChannel {
  private conn: Connection | null = null;
  private connecting = false;
  private closed = false;
  private retiring = false;
  private nextId = 0;
  private readonly pending = new PendingCalls<ChannelCall>();
  /** Calls waiting for the connection; never sent. */
  private queued: ChannelCall[] = [];
  private readonly maxBody: number;

  constructor(
    readonly address: string,
    private readonly auth: AuthSource,
    private readonly onBroken: (err: Error) => void,
    private readonly limits: WireLimits = DEFAULT_LIMITS,
    private readonly failures: PayloadFailures | null = null,
  ) {
    this.maxBody = maxFrameLength(limits) - (FRAME_HEADER_BYTES - 4);
  }

  /** Calls sent or waiting on this channel. */
  get outstanding(): number {
    return this.pending.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(call: ChannelCall): void {
    if (this.closed) {
      call.failed(new ConnectionLostError(`channel to ${this.address} is closed`, false));
      return;
    }
    const id = (this.nextId = (this.nextId + 1) >>> 0);
    call.channel = this;
    call.id = id;
    this.pending.set(call);
    const conn = this.conn;
    if (conn !== null) this.write(conn, call);
    else {
      this.queued.push(call);
      if (!this.connecting) void this.connect();
    }
  }

  /** Encode straight into the connection's write buffer; a request over the limit is refused unsent. */
  private write(conn: Connection, call: ChannelCall): void {
    const body = encodeTransient([call.method, call.deadline, call.traceId, call.payload]);
    if (body.length > this.maxBody) {
      this.pending.delete(call.id);
      call.channel = null;
      call.failed(new PayloadTooLargeError(body.length, this.maxBody));
      return;
    }
    conn.send(FrameKind.Request, call.id, body);
  }

  /** Prove a renewed credential on the open connection (one being made uses it already). */
  reauthenticate(): void {
    if (this.conn !== null) sendReauth(this.conn, this.auth);
  }

  /** Forget a call that its caller gave up on (its deadline passed). */
  cancel(call: ChannelCall): void {
    if (call.channel !== this) return;
    this.pending.delete(call.id);
    call.channel = null;
    if (this.retiring && this.pending.size === 0) this.close();
  }

  private async connect(): Promise<void> {
    this.connecting = true;
    try {
      const socket = await dial(this.address, 1000);
      const conn = new Connection(socket, { limits: this.limits });
      await connectHandshake(conn, this.auth);
      if (this.closed) {
        conn.close();
        return;
      }
      this.conn = conn;
      conn.onFrame = (kind, id, body) => this.onFrame(kind, id, body);
      conn.onClose((err) => this.broken(new ConnectionLostError(`connection to ${this.address} lost: ${err.message}`, true)));
      for (const call of this.queued) if (call.channel === this) this.write(conn, call);
      this.queued = [];
    } catch (err) {
      // Refused for who we are: every instance of the platform would refuse it alike; say so.
      if (err instanceof AuthFailedError) this.broken(err);
      else this.broken(new ConnectionLostError(`cannot connect to ${this.address}: ${(err as Error).message}`, false));
    } finally {
      this.connecting = false;
    }
  }

  private onFrame(kind: number, id: number, body: Buffer): void {
    const call = this.pending.delete(id);
    if (call === undefined) return; // given up on already
    call.channel = null;
    if (kind === FrameKind.Reply || kind === FrameKind.ErrorReply) this.settle(call, kind, body);
    else call.failed(new ConnectionLostError(`unexpected frame ${kind} from ${this.address}`, true));
    if (this.retiring && this.pending.size === 0) this.close();
  }

  /**
   * A reply that cannot be decoded fails its own call (BAD_REQUEST, not retried: the callee would
   * answer the same); the connection and every other call on it go on.
   */
  private settle(call: ChannelCall, kind: number, body: Buffer): void {
    let value: unknown;
    try {
      value = decodePayload(body);
    } catch (err) {
      const e = err as BadRequestError;
      this.failures?.count('reply', `${call.method} at ${this.address}`, e);
      call.failed(new BadRequestError(`the reply to ${call.method} from ${this.address} cannot be decoded (${String(e.details?.reason)}): the callee sent a payload that is not msgpack this caller can read; its owner should fix what the handler returns`, { details: { undecodable: true } }));
      return;
    }
    if (kind === FrameKind.Reply) call.replied(value);
    else call.failed(errorFromWire(value));
  }

  /** Fail everything outstanding and mark the channel unusable; the owner drops it. */
  private broken(err: ConnectionLostError | AuthFailedError): void {
    if (this.closed) return;
    this.closed = true;
    const neverSent = new Set(this.queued);
    this.queued = [];
    const calls = this.pending.drain();
    this.onBroken(err);
    for (const call of calls) {
      call.channel = null;
      call.failed(neverSent.has(call) && err instanceof ConnectionLostError ? new ConnectionLostError(err.message, false) : err);
    }
  }

  close(): void {
    if (this.closed) return;
    this.conn?.close('CLOSED', 'caller closing');
    this.broken(new ConnectionLostError(`channel to ${this.address} closed`, true));
  }

  /** The instance left the registry: let its outstanding calls finish, then close. */
  closeWhenIdle(): void {
    this.retiring = true;
    if (this.pending.size === 0) this.close();
  }
}
