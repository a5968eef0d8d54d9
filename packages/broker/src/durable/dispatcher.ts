import type { Logger } from 'pino';
import { FrameKind, encodeTransient, durableQueueName, type ConsumeBody, type DeliveryBody } from '@squadron/protocol';
import type { Connection } from '@squadron/transport';
import type { QueueStore, EnqueueOptions, EnqueueResult } from './queue-store.ts';

interface Consumer {
  conn: Connection;
  cid: number;
  spec: ConsumeBody;
  /** seq → when its visibility runs out */
  held: Map<number, number>;
}

/** Retry delay after a failed delivery: 100 ms, doubling, at most 30 s. */
export function backoffMs(deliveries: number): number {
  return Math.min(30_000, 100 * 2 ** Math.max(0, deliveries - 1));
}

/**
 * Hands queue messages to consumers. Each consumer holds at most `concurrency` unacknowledged
 * deliveries (its credit). A delivery not acknowledged within the visibility timeout, refused by
 * the consumer, or held by a consumer that went away, is retried after a backoff, and after
 * `maxDeliveries` goes to the dead-letter queue.
 */
export class QueueDispatcher {
  private readonly byQueue = new Map<string, Consumer[]>();
  private readonly byConn = new Map<Connection, Map<number, Consumer>>();
  private readonly pumping = new Set<string>();
  private readonly again = new Set<string>();
  private readonly rr = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly store: QueueStore, private readonly log: Logger, sweepMs = 25) {
    this.timer = setInterval(() => this.sweep(), sweepMs);
    this.timer.unref();
  }

  enqueue(queue: string, payload: Buffer, options: EnqueueOptions): Promise<EnqueueResult> {
    return this.store.enqueue(queue, payload, options).then((result) => {
      this.pump(queue);
      return result;
    });
  }

  /**
   * A durable publish: one message in the queue of every durable subscription of the topic,
   * acknowledged once all are on disk. Duplicate when every subscription had the id already.
   */
  async publishDurable(topic: string, payload: Buffer, options: EnqueueOptions): Promise<{ id: string; duplicate: boolean; stored: number }> {
    const groups = this.store.durableGroups(topic);
    // Every subscription's queue has room, or none gets the message: nothing half-published.
    this.store.admission?.(groups.map((group) => durableQueueName(topic, group)), payload.length);
    const results = await Promise.all(groups.map((group) => this.enqueue(durableQueueName(topic, group), payload, options)));
    const id = options.id ?? results[0]?.id ?? `${topic}:${options.traceId ?? ''}`;
    return { id, duplicate: results.length > 0 && results.every((r) => r.duplicate), stored: results.filter((r) => !r.duplicate).length };
  }

  subscribeDurable(topic: string, group: string): Promise<void> {
    return this.store.subscribeDurable(topic, group);
  }

  addConsumer(conn: Connection, cid: number, spec: ConsumeBody): void {
    let mine = this.byConn.get(conn);
    if (!mine) this.byConn.set(conn, (mine = new Map()));
    if (mine.has(cid)) this.removeConsumer(conn, cid);
    const consumer: Consumer = { conn, cid, spec, held: new Map() };
    mine.set(cid, consumer);
    const list = this.byQueue.get(spec.queue) ?? [];
    list.push(consumer);
    this.byQueue.set(spec.queue, list);
    this.pump(spec.queue);
  }

  removeConsumer(conn: Connection, cid: number): void {
    const consumer = this.byConn.get(conn)?.get(cid);
    if (!consumer) return;
    this.byConn.get(conn)!.delete(cid);
    const list = this.byQueue.get(consumer.spec.queue)!;
    list.splice(list.indexOf(consumer), 1);
    for (const seq of consumer.held.keys()) void this.failed(consumer, seq, 'the consumer went away');
    consumer.held.clear();
  }

  /** How many consumers a connection has. */
  countOf(conn: Connection): number {
    return this.byConn.get(conn)?.size ?? 0;
  }

  /** A connection's consumers: their ids and what they asked for. */
  consumersOf(conn: Connection): Array<{ cid: number; spec: ConsumeBody }> {
    return [...(this.byConn.get(conn)?.values() ?? [])].map((c) => ({ cid: c.cid, spec: c.spec }));
  }

  removeConnection(conn: Connection): void {
    for (const cid of [...(this.byConn.get(conn)?.keys() ?? [])]) this.removeConsumer(conn, cid);
    this.byConn.delete(conn);
  }

  ack(conn: Connection, cid: number, seq: number): void {
    const consumer = this.byConn.get(conn)?.get(cid);
    if (!consumer || !consumer.held.delete(seq)) return; // late: already timed out and retried
    this.store.ack(consumer.spec.queue, seq);
    this.pump(consumer.spec.queue);
  }

  nack(conn: Connection, cid: number, seq: number, error: string): void {
    const consumer = this.byConn.get(conn)?.get(cid);
    if (!consumer || !consumer.held.delete(seq)) return;
    void this.failed(consumer, seq, error);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async failed(consumer: Consumer, seq: number, error: string): Promise<void> {
    const queue = consumer.spec.queue;
    const deliveries = this.store.deliveries(queue, seq) || 1;
    try {
      const outcome = await this.store.fail(queue, seq, error, consumer.spec.maxDeliveries, backoffMs(deliveries));
      if (outcome === 'dead') this.log.warn({ queue, seq, deliveries, error }, 'message moved to the dead-letter queue');
    } catch (err) {
      this.log.error({ err, queue, seq }, 'could not record a failed delivery');
    }
    this.pump(queue);
  }

  /** Deliver what is due to consumers with credit left; one pass per queue at a time. */
  pump(queue: string): void {
    if (this.nextWithCredit(queue, false) === null) return; // nobody to deliver to: nothing to start
    if (this.pumping.has(queue)) {
      this.again.add(queue);
      return;
    }
    this.pumping.add(queue);
    void this.deliver(queue).finally(() => {
      this.pumping.delete(queue);
      if (this.again.delete(queue)) this.pump(queue);
    });
  }

  private async deliver(queue: string): Promise<void> {
    for (;;) {
      const consumer = this.nextWithCredit(queue);
      if (!consumer) return;
      let taken;
      try {
        taken = await this.store.take(queue);
      } catch (err) {
        this.log.error({ err, queue }, 'could not read a message back from the log');
        return;
      }
      if (!taken) return;
      const target = consumer.conn.closed ? this.nextWithCredit(queue) : consumer;
      if (!target) {
        await this.store.fail(queue, taken.seq, 'no consumer left', Number.MAX_SAFE_INTEGER, 0);
        return;
      }
      target.held.set(taken.seq, Date.now() + target.spec.visibilityTimeoutMs);
      const body: DeliveryBody = [taken.seq, taken.id, taken.deliveries, taken.traceId, taken.payload];
      target.conn.send(FrameKind.Delivery, target.cid, encodeTransient(body));
    }
  }

  /** The next consumer of the queue with credit left, in turn (`advance` false: just look). */
  private nextWithCredit(queue: string, advance = true): Consumer | null {
    const list = this.byQueue.get(queue);
    if (!list || list.length === 0) return null;
    const start = this.rr.get(queue) ?? 0;
    for (let i = 0; i < list.length; i++) {
      const c = list[(start + i) % list.length]!;
      if (!c.conn.closed && c.held.size < c.spec.concurrency) {
        if (advance) this.rr.set(queue, (start + i + 1) % list.length);
        return c;
      }
    }
    return null;
  }

  /** Retry deliveries past their visibility timeout, and deliver delayed messages now due. */
  private sweep(): void {
    const now = Date.now();
    for (const list of this.byQueue.values()) {
      for (const consumer of list) {
        for (const [seq, deadline] of consumer.held) {
          if (deadline > now) continue;
          consumer.held.delete(seq);
          void this.failed(consumer, seq, `not acknowledged within ${consumer.spec.visibilityTimeoutMs} ms`);
        }
      }
    }
    for (const [queue, list] of this.byQueue) {
      const due = this.store.queue(queue).nextDue();
      if (list.length > 0 && due !== null && due <= now) this.pump(queue);
    }
  }
}
