import type { Logger } from 'pino';
import {
  FrameKind, decode, decodePayload, encode, encodeEnvelopeField, asRegistryEvent, errorFromWire, ClosedError, SquadronError, UnavailableError, AuthFailedError,
  type InstanceInfo, type RegistryEvent, type LoadRejections, type DropReport,
} from '@squadron/protocol';
import { Backoff, Connection, connectHandshake, dial, sendReauth, type AuthSource } from '@squadron/transport';
import { PendingCalls } from './pending-calls.ts';

export interface BrokerSessionHandlers {
  /** Called after every (re)connect, before anything else is sent: restore registrations. */
  onConnected(session: BrokerSession): void;
  onRegistryEvent(event: RegistryEvent): void;
  onMessage(sid: number, body: Buffer): void;
  onDelivery(cid: number, body: Buffer): void;
  /**
   * A policy stopped (or would not start) a subscription or consumer, or a limit refused it for
   * good; a policy refusal is served by the broker by itself once a change allows it.
   */
  onRefused(what: 'subscription' | 'consumer', id: number, err: SquadronError): void;
}

const NO_GROUP = encodeEnvelopeField('');

/**
 * The SDK's connection to its site's broker. It reconnects with backoff and, on every new
 * connection, lets its owner restore what the broker must know (registrations, subscriptions,
 * the registry watch).
 */
interface PendingQuery {
  id: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class BrokerSession {
  private conn: Connection | null = null;
  private closed = false;
  private readonly backoff = new Backoff(50, 2000);
  private queryId = 0;
  /** Requests waiting for their reply: a ring by id, as for calls (no Map entry per request). */
  private readonly queries = new PendingCalls<PendingQuery>();
  private readonly waiters: Array<() => void> = [];
  /** Sites in failover order, as the broker last said. */
  sites: string[] = [];
  /** Connections made to the broker so far: 1 while the first one holds. */
  connects = 0;

  constructor(
    readonly address: string,
    private readonly auth: AuthSource,
    private readonly handlers: BrokerSessionHandlers,
    private readonly log: Logger,
  ) {}

  get connected(): boolean {
    return this.conn !== null && !this.conn.closed;
  }

  /** Connect; rejects if the broker cannot be reached within `timeoutMs`. */
  async start(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: Error | null = null;
    while (!this.closed && Date.now() < deadline) {
      try {
        await this.open();
        return;
      } catch (err) {
        // A broker that refuses who we are will refuse it again: say so now, with its reason.
        if (err instanceof AuthFailedError) throw err;
        lastError = err as Error;
        await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
      }
    }
    throw new SquadronError('UNAVAILABLE', `cannot reach the broker at ${this.address}: ${lastError?.message ?? 'closed'}. Is the platform running (squadron up)?`, { retryable: true });
  }

  private async open(): Promise<void> {
    const socket = await dial(this.address);
    const conn = new Connection(socket);
    const { ready } = await connectHandshake(conn, this.auth);
    if (this.closed) {
      conn.close();
      return;
    }
    this.sites = ready.sites;
    this.conn = conn;
    this.connects++;
    this.backoff.reset();
    conn.onFrame = (kind, id, body) => this.onFrame(kind, id, body);
    conn.onClose((err) => this.lost(conn, err));
    this.handlers.onConnected(this);
    for (const w of this.waiters.splice(0)) w();
  }

  private lost(conn: Connection, err: Error): void {
    if (this.conn === conn) this.conn = null;
    for (const q of this.queries.drain()) q.reject(err);
    if (this.closed) return;
    this.log.warn({ broker: this.address, reason: err.message }, 'lost the broker; reconnecting');
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    while (!this.closed && !this.connected) {
      const delay = this.backoff.next();
      await new Promise((r) => setTimeout(r, delay).unref());
      try {
        await this.open();
      } catch {
        /* try again */
      }
    }
  }

  private onFrame(kind: number, id: number, body: Buffer): void {
    switch (kind) {
      case FrameKind.Message:
        this.handlers.onMessage(id, body);
        return;
      case FrameKind.RegistryEvent:
        this.handlers.onRegistryEvent(asRegistryEvent(decode(body)));
        return;
      case FrameKind.Ping:
        this.conn?.send(FrameKind.Pong, id);
        return;
      case FrameKind.Pong: {
        const q = this.queries.delete(id);
        q?.resolve(undefined);
        return;
      }
      case FrameKind.Delivery:
        this.handlers.onDelivery(id, body);
        return;
      case FrameKind.Reply:
      case FrameKind.ErrorReply: {
        const q = this.queries.delete(id);
        if (q === undefined) return;
        // A reply that cannot be decoded fails its own request, not the connection.
        let value: unknown;
        try {
          value = decodePayload(body);
        } catch (err) {
          return q.reject(err as Error);
        }
        if (kind === FrameKind.Reply) q.resolve(value);
        else q.reject(errorFromWire(value));
        return;
      }
      case FrameKind.Refused: {
        const [what, wire] = decode(body) as [unknown, unknown];
        this.handlers.onRefused(what === 'consumer' ? 'consumer' : 'subscription', id, errorFromWire(wire));
        return;
      }
      default:
        return;
    }
  }

  /** `topic` as encodeEnvelopeField made it. */
  publish(topic: Uint8Array, traceId: string, payload: Uint8Array): boolean {
    const conn = this.conn;
    if (!conn || conn.closed) return false;
    conn.sendEnvelope(FrameKind.Publish, 0, topic, traceId, NO_GROUP, payload);
    return true;
  }

  /** Bytes queued toward the broker and not yet taken by the kernel. */
  get backlog(): number {
    return this.conn?.backlog ?? 0;
  }

  subscribe(sid: number, topic: string, group: string): void {
    this.conn?.sendValue(FrameKind.Subscribe, sid, { topic, group });
  }

  unsubscribe(sid: number): void {
    this.conn?.send(FrameKind.Unsubscribe, sid);
  }

  /** Prove a renewed credential on the open connection, so the broker keeps it past the old one's expiry. */
  reauthenticate(): void {
    if (this.conn !== null) sendReauth(this.conn, this.auth);
  }

  register(info: InstanceInfo): void {
    this.conn?.send(FrameKind.Register, 0, encode(info));
  }

  deregister(): void {
    this.conn?.send(FrameKind.Deregister, 0);
    this.conn?.flush();
  }

  /** Requests in flight, and (when any were refused) the calls refused per caller since start. */
  reportLoad(inFlight: number, rejections?: LoadRejections): void {
    this.conn?.sendValue(FrameKind.Load, 0, rejections ? [inFlight, rejections] : inFlight);
  }

  /** Messages each subscription dropped itself since it began; false when not connected. */
  reportDrops(report: DropReport): boolean {
    if (!this.connected) return false;
    this.conn!.sendValue(FrameKind.Drops, 0, report);
    return true;
  }

  watch(): void {
    this.conn?.send(FrameKind.Watch, 1);
  }

  /** A fresh id for a request or a consumer: one sequence, so that replies never collide. */
  nextId(): number {
    return ++this.queryId;
  }

  /** Send a frame the broker answers with Reply or ErrorReply; resolves with the reply. */
  request<T>(kind: number, value: unknown, id = this.nextId()): Promise<T> {
    const conn = this.conn;
    if (!conn) return Promise.reject(new UnavailableError(`not connected to the broker at ${this.address}`));
    return new Promise<T>((resolve, reject) => {
      this.queries.set({ id, resolve: resolve as (v: unknown) => void, reject });
      conn.sendValue(kind, id, value);
    });
  }

  /** Ask the broker for its stats (or another query). */
  query<T>(what: Record<string, unknown> = { what: 'stats' }): Promise<T> {
    return this.request<T>(FrameKind.Query, what);
  }

  ack(cid: number, seq: number): void {
    this.conn?.sendValue(FrameKind.Ack, cid, [seq]);
  }

  nack(cid: number, seq: number, error: string): void {
    this.conn?.sendValue(FrameKind.Nack, cid, [seq, error]);
  }

  stopConsuming(cid: number): void {
    this.conn?.send(FrameKind.StopConsume, cid);
  }

  /**
   * Resolves once the broker has processed everything sent before: a Ping it answers in order.
   * Publishers pace themselves with it, as with NATS's flush.
   */
  flush(): Promise<void> {
    const conn = this.conn;
    if (!conn) return Promise.reject(new ClosedError('not connected to the broker'));
    const id = ++this.queryId;
    return new Promise<void>((resolve, reject) => {
      this.queries.set({ id, resolve: () => resolve(), reject });
      conn.send(FrameKind.Ping, id);
    });
  }

  /** Resolves when connected (now or after a reconnect). */
  whenConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.conn?.close('CLOSED', 'client closing');
    this.conn = null;
  }
}
