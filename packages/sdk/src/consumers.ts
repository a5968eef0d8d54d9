import { decode, decodePayload, asDelivery } from '@squadron/protocol';

/** Options of a queue consumer. */
export interface ConsumeOptions {
  /** Messages handled at once; the broker sends no more unacknowledged (default 8). */
  concurrency?: number;
  /** Deliveries before a message goes to the dead-letter queue (default 5). */
  maxDeliveries?: number;
  /** A delivery not acknowledged within this is retried (default 30 s). */
  visibilityTimeoutMs?: number;
}

export interface Delivered {
  queue: string;
  messageId: string;
  deliveryCount: number;
  traceId: string;
}

export type DeliveryHandler = (message: unknown, meta: Delivered) => void | Promise<void>;

export interface ConsumerState {
  readonly queue: string;
  handled: number;
  failed: number;
  /** Deliveries whose payload could not be decoded: refused unseen by the handler, so the broker dead-letters them. */
  undecodable: number;
}

/** A consumer's local counters, and `stop`. */
export interface Consumer extends Readonly<ConsumerState> {
  stop(): void;
}

export const DEFAULT_CONSUME: Required<ConsumeOptions> = Object.freeze({ concurrency: 8, maxDeliveries: 5, visibilityTimeoutMs: 30_000 });

/**
 * One queue consumer in this process. Resolving the handler acknowledges the message; throwing
 * refuses it, and the broker retries it later (after `maxDeliveries`, dead-letters it).
 */
export class LocalConsumer implements Consumer {
  handled = 0;
  failed = 0;
  undecodable = 0;

  constructor(
    readonly cid: number,
    readonly queue: string,
    readonly spec: Required<ConsumeOptions>,
    private readonly handler: DeliveryHandler,
    private readonly settle: (cid: number, seq: number, error: string | null) => void,
    private readonly onStop: (cid: number) => void,
    private readonly onUndecodable: (err: Error, queue: string) => void,
  ) {}

  stop(): void {
    this.onStop(this.cid);
  }

  /** A Delivery frame's body arrived for this consumer. */
  accept(body: Buffer): void {
    // The delivery's own fields come from the broker: a malformed one is the connection's failure.
    const [seq, messageId, deliveryCount, traceId, payload] = asDelivery(decode(body));
    let message: unknown;
    try {
      message = decodePayload(payload);
    } catch (err) {
      // The message's failure alone: refused, so that the broker's retries end in its dead-letter
      // queue with this error, where its owner can read it; the connection goes on.
      this.undecodable++;
      this.onUndecodable(err as Error, this.queue);
      return this.settle(this.cid, seq, (err as Error).message);
    }
    const meta: Delivered = { queue: this.queue, messageId, deliveryCount, traceId };
    let result: void | Promise<void>;
    try {
      result = this.handler(message, meta);
    } catch (err) {
      return this.done(seq, err);
    }
    if (result instanceof Promise) result.then(() => this.done(seq, null), (err: unknown) => this.done(seq, err));
    else this.done(seq, null);
  }

  private done(seq: number, err: unknown): void {
    if (err === null) this.handled++;
    else this.failed++;
    this.settle(this.cid, seq, err === null ? null : err instanceof Error ? err.message : String(err));
  }
}
