import { decodePayload, envelopePayloadOffset, EnvelopeReader, type SquadronError } from '@squadron/protocol';

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

/** A subscription's local counters, whether the broker serves it, and `unsubscribe`. */
export interface Subscription extends Readonly<SubscriptionState> {
  /**
   * Resolves once the broker serves the subscription; rejects with the broker's refusal (e.g.
   * `PERMISSION_DENIED`, saying which grant would allow it), or `CLOSED` if the client closes first.
   */
  readonly ready: Promise<void>;
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
  readonly ready: Promise<void>;
  /** Whether the broker has answered; later refusals (after a reconnect, a policy change) go to onRefused or the log. */
  answered = false;
  private settleReady: (err: SquadronError | null) => void = () => {};

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
    /** The subscriber's own handling of the broker's refusals, if it has one. */
    readonly onRefused?: (err: SquadronError) => void,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (err) => (err === null ? resolve() : reject(err));
    });
    // A refusal nobody awaits is logged by the client, not an unhandled rejection.
    this.ready.catch(() => {});
  }

  /** The broker's first answer: null once it serves the subscription, else its refusal. */
  answer(err: SquadronError | null): void {
    if (this.answered) return;
    this.answered = true;
    this.settleReady(err);
  }

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
