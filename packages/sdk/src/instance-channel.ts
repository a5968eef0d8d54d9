import {
  FrameKind, encode, decode, errorFromWire, maxFrameLength, ConnectionLostError, TimeoutError,
  PayloadTooLargeError, DEFAULT_LIMITS, FRAME_HEADER_BYTES, type WireLimits, type AuthBody,
} from '@squadron/protocol';
import { Connection, connectHandshake, dial } from '@squadron/transport';

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface Queued {
  id: number;
  body: Buffer;
}

/**
 * The caller's one connection to one callee instance. Requests are multiplexed on it by id and
 * go straight to the instance: no broker on the path. It connects on first use; requests made
 * while it connects wait, and fail as never sent if the connection cannot be made.
 */
export class InstanceChannel {
  private conn: Connection | null = null;
  private connecting = false;
  private closed = false;
  private retiring = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private queued: Queued[] = [];
  private readonly maxBody: number;

  constructor(
    readonly address: string,
    private readonly auth: Omit<AuthBody, 'version'>,
    private readonly onBroken: (err: Error) => void,
    limits: WireLimits = DEFAULT_LIMITS,
  ) {
    this.maxBody = maxFrameLength(limits) - (FRAME_HEADER_BYTES - 4);
  }

  /** Requests sent or waiting on this channel. */
  get outstanding(): number {
    return this.pending.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  request(method: string, payload: unknown, deadline: number, traceId: string): Promise<unknown> {
    const body = encode([method, deadline, traceId, payload]);
    if (body.length > this.maxBody) return Promise.reject(new PayloadTooLargeError(body.length, this.maxBody));
    if (this.closed) return Promise.reject(new ConnectionLostError(`channel to ${this.address} is closed`, false));
    const id = (this.nextId = (this.nextId + 1) >>> 0);
    return new Promise((resolve, reject) => {
      const wait = Math.max(0, deadline - Date.now());
      const timer = setTimeout(() => this.expire(id, wait), wait);
      this.pending.set(id, { resolve, reject, timer });
      const conn = this.conn;
      if (conn !== null) conn.send(FrameKind.Request, id, body);
      else {
        this.queued.push({ id, body });
        if (!this.connecting) void this.connect();
      }
    });
  }

  private expire(id: number, waitedMs: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.reject(new TimeoutError(`no reply from ${this.address} within ${waitedMs} ms`));
    if (this.retiring && this.pending.size === 0) this.close();
  }

  private async connect(): Promise<void> {
    this.connecting = true;
    try {
      const socket = await dial(this.address, 1000);
      const conn = new Connection(socket);
      await connectHandshake(conn, this.auth);
      if (this.closed) {
        conn.close();
        return;
      }
      this.conn = conn;
      conn.onFrame = (kind, id, body) => this.onFrame(kind, id, body);
      conn.onClose((err) => this.broken(new ConnectionLostError(`connection to ${this.address} lost: ${err.message}`, true)));
      for (const q of this.queued) if (this.pending.has(q.id)) conn.send(FrameKind.Request, q.id, q.body);
      this.queued = [];
    } catch (err) {
      this.broken(new ConnectionLostError(`cannot connect to ${this.address}: ${(err as Error).message}`, false));
    } finally {
      this.connecting = false;
    }
  }

  private onFrame(kind: number, id: number, body: Buffer): void {
    const p = this.pending.get(id);
    if (p === undefined) return; // timed out already
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (kind === FrameKind.Reply) p.resolve(decode(body));
    else if (kind === FrameKind.ErrorReply) p.reject(errorFromWire(decode(body)));
    else p.reject(new ConnectionLostError(`unexpected frame ${kind} from ${this.address}`, true));
    if (this.retiring && this.pending.size === 0) this.close();
  }

  /** Fail everything outstanding and mark the channel unusable; the owner drops it. */
  private broken(err: ConnectionLostError): void {
    if (this.closed) return;
    this.closed = true;
    const neverSent = new Set(this.queued.map((q) => q.id));
    this.queued = [];
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(neverSent.has(id) ? new ConnectionLostError(err.message, false) : err);
    }
    this.pending.clear();
    this.onBroken(err);
  }

  close(): void {
    if (this.closed) return;
    this.conn?.close('CLOSED', 'caller closing');
    this.broken(new ConnectionLostError(`channel to ${this.address} closed`, true));
  }

  /** The instance left the registry: let its outstanding requests finish, then close. */
  closeWhenIdle(): void {
    this.retiring = true;
    if (this.pending.size === 0) this.close();
  }
}
