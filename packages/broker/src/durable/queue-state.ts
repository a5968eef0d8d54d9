import type { LogPosition } from './durable-log.ts';
import { MinHeap } from './min-heap.ts';

/** One message of a queue, as the broker keeps it in memory: where its body is, not the body. */
export interface QueueEntry {
  readonly seq: number;
  readonly key: string | null;
  readonly producerId: string | null;
  readonly traceId: string;
  readonly enqueuedAt: number;
  readonly position: LogPosition;
  notBefore: number;
  deliveries: number;
  state: 'ready' | 'delayed' | 'inflight' | 'dead';
  lastError: string | null;
}

export interface QueueCounters {
  enqueued: number;
  delivered: number;
  acked: number;
  redelivered: number;
  deadLettered: number;
}

/**
 * The index of one queue: which messages are ready, waiting out a delay or a backoff, in
 * flight, or dead. Messages that share a key go out one at a time, in order: while one is in
 * flight or waiting to be retried, the others of its key wait behind it.
 */
export class QueueState {
  readonly entries = new Map<number, QueueEntry>();
  readonly counters: QueueCounters = { enqueued: 0, delivered: 0, acked: 0, redelivered: 0, deadLettered: 0 };
  private readonly ready = new MinHeap<QueueEntry>((e) => e.seq);
  private readonly delayed = new MinHeap<QueueEntry>((e) => e.notBefore);
  /** key → the message that holds it (in flight, or failed and waiting for its retry) */
  private readonly keyHolder = new Map<string, number>();
  /** key → messages of that key waiting behind the holder, in sequence order */
  private readonly keyWaiting = new Map<string, QueueEntry[]>();
  private inFlightCount = 0;

  constructor(readonly name: string) {}

  get depth(): number {
    return this.entries.size - this.inFlightCount - this.deadCount;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  deadCount = 0;

  add(entry: QueueEntry): void {
    this.entries.set(entry.seq, entry);
    this.counters.enqueued++;
    this.schedule(entry);
  }

  /** The next message to deliver at `now`, marked in flight; null when none is due. */
  take(now: number): QueueEntry | null {
    this.promote(now);
    for (;;) {
      const entry = this.ready.pop();
      if (entry === undefined) return null;
      if (entry.state !== 'ready') continue; // settled while it waited
      const holder = entry.key === null ? undefined : this.keyHolder.get(entry.key);
      if (holder !== undefined && holder !== entry.seq) {
        let waiting = this.keyWaiting.get(entry.key!);
        if (!waiting) this.keyWaiting.set(entry.key!, (waiting = []));
        waiting.push(entry);
        continue;
      }
      if (entry.key !== null) this.keyHolder.set(entry.key, entry.seq);
      entry.state = 'inflight';
      entry.deliveries++;
      this.inFlightCount++;
      this.counters.delivered++;
      if (entry.deliveries > 1) this.counters.redelivered++;
      return entry;
    }
  }

  /** When the next delayed message falls due, or null. */
  nextDue(): number | null {
    return this.delayed.peek()?.notBefore ?? null;
  }

  /** Acknowledged: the message is done. */
  ack(seq: number): QueueEntry | null {
    const entry = this.entries.get(seq);
    if (!entry) return null;
    if (entry.state === 'inflight') this.inFlightCount--;
    if (entry.state === 'dead') this.deadCount--;
    this.entries.delete(seq);
    entry.state = 'dead'; // anything still pointing at it skips it
    this.counters.acked++;
    this.release(entry);
    return entry;
  }

  /** A delivery failed (or timed out): retry at `notBefore`; its key stays held until then. */
  fail(seq: number, notBefore: number, error: string): QueueEntry | null {
    const entry = this.entries.get(seq);
    if (!entry || entry.state !== 'inflight') return null;
    this.inFlightCount--;
    entry.lastError = error;
    entry.notBefore = notBefore;
    this.schedule(entry);
    return entry;
  }

  /** Moved to the dead-letter queue: kept for listing and replay, never delivered by itself. */
  kill(seq: number, error: string): QueueEntry | null {
    const entry = this.entries.get(seq);
    if (!entry || entry.state === 'dead') return null;
    if (entry.state === 'inflight') this.inFlightCount--;
    entry.state = 'dead';
    entry.lastError = error;
    this.deadCount++;
    this.counters.deadLettered++;
    this.release(entry);
    return entry;
  }

  /** Back from the dead-letter queue, with a fresh count of deliveries. */
  revive(seq: number, notBefore: number): QueueEntry | null {
    const entry = this.entries.get(seq);
    if (!entry || entry.state !== 'dead') return null;
    this.deadCount--;
    entry.deliveries = 0;
    entry.notBefore = notBefore;
    this.schedule(entry);
    return entry;
  }

  deadEntries(): QueueEntry[] {
    return [...this.entries.values()].filter((e) => e.state === 'dead');
  }

  private schedule(entry: QueueEntry): void {
    if (entry.notBefore > Date.now()) {
      entry.state = 'delayed';
      this.delayed.push(entry);
    } else {
      entry.state = 'ready';
      this.ready.push(entry);
    }
  }

  private promote(now: number): void {
    for (let e = this.delayed.peek(); e !== undefined && e.notBefore <= now; e = this.delayed.peek()) {
      this.delayed.pop();
      if (e.state !== 'delayed') continue;
      e.state = 'ready';
      this.ready.push(e);
    }
  }

  /** The message gave up its key: the next one of that key may go. */
  private release(entry: QueueEntry): void {
    if (entry.key === null || this.keyHolder.get(entry.key) !== entry.seq) return;
    this.keyHolder.delete(entry.key);
    const waiting = this.keyWaiting.get(entry.key);
    if (!waiting) return;
    let next = waiting.shift();
    while (next !== undefined && next.state !== 'ready') next = waiting.shift();
    if (waiting.length === 0) this.keyWaiting.delete(entry.key);
    if (next !== undefined) this.ready.push(next);
  }
}
