import { decodePayload, envelopePayloadOffset, EnvelopeReader } from '@squadron/protocol';

export type Delivery = (message: unknown, topic: string, traceId: string) => void | Promise<void>;

export interface SubscriptionState {
  readonly topic: string;
  readonly group: string;
  received: number;
  handled: number;
  failed: number;
  /** Messages dropped here because the handler could not keep up (at-most-once). */
  dropped: number;
  /** Messages dropped because their payload could not be decoded; the handler never saw them. */
  undecodable: number;
}

/** A subscription's local counters, and `unsubscribe`. */
export interface Subscription extends Readonly<SubscriptionState> {
  unsubscribe(): void;
}

/**
 * One subscription in this process: runs its handler at most `concurrency` at a time and keeps a
 * bounded queue behind it. What does not fit is dropped and counted, never buffered without end.
 */
export class LocalSubscription implements Subscription {
  received = 0;
  handled = 0;
  failed = 0;
  dropped = 0;
  undecodable = 0;
  private running = 0;
  private readonly envelopes = new EnvelopeReader();
  private readonly queue: Array<[unknown, string, string]> = [];

  constructor(
    readonly sid: number,
    readonly topic: string,
    readonly group: string,
    private readonly deliver: Delivery,
    private readonly concurrency: number,
    private readonly maxQueued: number,
    private readonly onError: (err: unknown, topic: string) => void,
    private readonly onUnsubscribe: (sid: number) => void,
    private readonly onUndecodable: (err: Error, topic: string) => void,
  ) {}

  unsubscribe(): void {
    this.onUnsubscribe(this.sid);
  }

  /** A Message frame's body arrived for this subscription. */
  accept(body: Buffer): void {
    const payloadOffset = envelopePayloadOffset(body);
    this.received++;
    const now = this.running < this.concurrency;
    if (!now && this.queue.length >= this.maxQueued) {
      this.dropped++; // before any decoding: a subscriber that is behind does the least work
      return;
    }
    let message: unknown;
    try {
      message = decodePayload(body, payloadOffset);
    } catch (err) {
      // This message's failure alone: the connection and the messages after it go on.
      this.undecodable++;
      this.onUndecodable(err as Error, this.envelopes.topic(body));
      return;
    }
    const topic = this.envelopes.topic(body);
    const traceId = this.envelopes.traceId(body);
    if (now) this.run(message, topic, traceId);
    else this.queue.push([message, topic, traceId]);
  }

  private run(message: unknown, topic: string, traceId: string): void {
    this.running++;
    let result: void | Promise<void>;
    try {
      result = this.deliver(message, topic, traceId);
    } catch (err) {
      this.settle(err, topic);
      return;
    }
    if (result instanceof Promise) result.then(() => this.settle(null, topic), (err: unknown) => this.settle(err, topic));
    else this.settle(null, topic);
  }

  private settle(err: unknown, topic: string): void {
    this.running--;
    if (err === null) this.handled++;
    else {
      this.failed++;
      this.onError(err, topic);
    }
    const next = this.queue.shift();
    if (next) this.run(next[0], next[1], next[2]);
  }
}
