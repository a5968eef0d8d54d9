import type { LogPosition } from './durable-log.ts';
import { MessageState, MessageTable } from './message-table.ts';
import { SeqHeap } from './seq-heap.ts';

export interface QueueCounters {
  enqueued: number;
  delivered: number;
  acked: number;
  redelivered: number;
  deadLettered: number;
}

/**
 * The index of one queue: which messages are ready, waiting out a delay or a backoff, in
 * flight, or dead, and where each one's record is. Messages that share a key go out one at a
 * time, in order: while one is in flight or waiting to be retried, the others of its key wait
 * behind it. Keys and last errors are kept only for the messages that have them.
 *
 * The heaps may hold stale sequence numbers (a message settled or rescheduled since it was
 * pushed): each is checked against the table when it comes out.
 */
export class QueueState {
  readonly counters: QueueCounters = { enqueued: 0, delivered: 0, acked: 0, redelivered: 0, deadLettered: 0 };
  private readonly table = new MessageTable();
  private readonly ready = new SeqHeap({ byPriority: false });
  private readonly delayed = new SeqHeap({ byPriority: true });
  /** seq → key, for keyed messages */
  private readonly keys = new Map<number, string>();
  /** seq → the error of its last failed delivery */
  private readonly errors = new Map<number, string>();
  /** key → the message that holds it (in flight, or failed and waiting for its retry) */
  private readonly keyHolder = new Map<string, number>();
  /** key → messages of that key waiting behind the holder, in sequence order */
  private readonly keyWaiting = new Map<string, number[]>();
  private inFlightCount = 0;
  private deadCount = 0;
  private bytesHeld = 0;

  constructor(readonly name: string) {}

  /** Messages waiting to be delivered (ready or delayed). */
  get depth(): number {
    return this.table.live - this.inFlightCount - this.deadCount;
  }

  /** Messages kept, whatever their state: waiting, in flight or dead. What the queue's limit counts. */
  get stored(): number {
    return this.table.live;
  }

  /** Bytes of the log's records that the kept messages hold. */
  get bytes(): number {
    return this.bytesHeld;
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  get dead(): number {
    return this.deadCount;
  }

  add(seq: number, place: LogPosition, notBefore: number, key: string | null, size: number): void {
    const slot = this.table.add(seq, place.segment, place.offset, notBefore, MessageState.Ready, size);
    this.bytesHeld += size;
    if (key !== null) this.keys.set(seq, key);
    this.counters.enqueued++;
    this.schedule(seq, slot, notBefore);
  }

  has(seq: number): boolean {
    return this.table.slotOf(seq) >= 0;
  }

  /** Where the record of a message is in the log, or null once it is settled. */
  place(seq: number): LogPosition | null {
    const slot = this.table.slotOf(seq);
    if (slot < 0) return null;
    return { segment: this.table.segmentAt(slot), offset: this.table.offsetAt(slot) };
  }

  /** A message just taken: where its record is, and which delivery this is. */
  taken(seq: number): { place: LogPosition; deliveries: number } | null {
    const slot = this.table.slotOf(seq);
    if (slot < 0) return null;
    return { place: { segment: this.table.segmentAt(slot), offset: this.table.offsetAt(slot) }, deliveries: this.table.deliveriesAt(slot) };
  }

  deliveries(seq: number): number {
    const slot = this.table.slotOf(seq);
    return slot < 0 ? 0 : this.table.deliveriesAt(slot);
  }

  isInFlight(seq: number): boolean {
    const slot = this.table.slotOf(seq);
    return slot >= 0 && this.table.stateAt(slot) === MessageState.InFlight;
  }

  lastError(seq: number): string | null {
    return this.errors.get(seq) ?? null;
  }

  /** The next message to deliver at `now`, marked in flight (its seq); -1 when none is due. */
  take(now: number): number {
    this.promote(now);
    for (;;) {
      const seq = this.ready.pop();
      if (seq < 0) return -1;
      const slot = this.table.slotOf(seq);
      if (slot < 0 || this.table.stateAt(slot) !== MessageState.Ready) continue; // settled or moved while it waited
      const key = this.keys.get(seq);
      const holder = key === undefined ? undefined : this.keyHolder.get(key);
      if (holder !== undefined && holder !== seq) {
        let waiting = this.keyWaiting.get(key!);
        if (!waiting) this.keyWaiting.set(key!, (waiting = []));
        waiting.push(seq);
        continue;
      }
      if (key !== undefined) this.keyHolder.set(key, seq);
      const deliveries = this.table.deliveriesAt(slot) + 1;
      this.table.setState(slot, MessageState.InFlight);
      this.table.setDeliveries(slot, deliveries);
      this.inFlightCount++;
      this.counters.delivered++;
      if (deliveries > 1) this.counters.redelivered++;
      return seq;
    }
  }

  /** When the next delayed message falls due, or null. */
  nextDue(): number | null {
    return this.delayed.peekPriority();
  }

  /** Acknowledged: the message is done. Returns where its record was, or null if it was not here. */
  ack(seq: number): LogPosition | null {
    const slot = this.table.slotOf(seq);
    if (slot < 0) return null;
    const state = this.table.stateAt(slot);
    if (state === MessageState.InFlight) this.inFlightCount--;
    if (state === MessageState.Dead) this.deadCount--;
    const place = { segment: this.table.segmentAt(slot), offset: this.table.offsetAt(slot) };
    this.bytesHeld -= this.table.sizeAt(slot);
    this.table.settle(slot);
    this.counters.acked++;
    this.release(seq);
    this.keys.delete(seq);
    this.errors.delete(seq);
    return place;
  }

  /** A delivery failed (or timed out): retry at `notBefore`; its key stays held until then. */
  fail(seq: number, notBefore: number, error: string): boolean {
    const slot = this.table.slotOf(seq);
    if (slot < 0 || this.table.stateAt(slot) !== MessageState.InFlight) return false;
    this.inFlightCount--;
    this.errors.set(seq, error);
    this.schedule(seq, slot, notBefore);
    return true;
  }

  /** Moved to the dead-letter queue: kept for listing and replay, never delivered by itself. */
  kill(seq: number, error: string): boolean {
    const slot = this.table.slotOf(seq);
    if (slot < 0) return false;
    const state = this.table.stateAt(slot);
    if (state === MessageState.Dead) return false;
    if (state === MessageState.InFlight) this.inFlightCount--;
    this.table.setState(slot, MessageState.Dead);
    this.errors.set(seq, error);
    this.deadCount++;
    this.counters.deadLettered++;
    this.release(seq);
    return true;
  }

  /** Back from the dead-letter queue, with a fresh count of deliveries. */
  revive(seq: number, notBefore: number): boolean {
    const slot = this.table.slotOf(seq);
    if (slot < 0 || this.table.stateAt(slot) !== MessageState.Dead) return false;
    this.deadCount--;
    this.table.setDeliveries(slot, 0);
    this.schedule(seq, slot, notBefore);
    return true;
  }

  /**
   * Replay of a failed delivery: the message keeps its count and waits for its retry. Its key is
   * not held across a restart: the order between its messages is kept by sequence.
   */
  restoreFailed(seq: number, deliveries: number, notBefore: number, error: string): void {
    const slot = this.table.slotOf(seq);
    if (slot < 0) return;
    this.table.setDeliveries(slot, deliveries);
    this.errors.set(seq, error);
    if (this.table.stateAt(slot) !== MessageState.Dead) this.schedule(seq, slot, notBefore);
  }

  /** Replay of a dead-lettering. */
  restoreDead(seq: number, deliveries: number, error: string): void {
    const slot = this.table.slotOf(seq);
    if (slot >= 0) this.table.setDeliveries(slot, deliveries);
    this.kill(seq, error);
  }

  /** Dead-lettered messages, oldest first. */
  deadSeqs(limit = Infinity): number[] {
    return this.table.seqsIn(MessageState.Dead, limit);
  }

  private schedule(seq: number, slot: number, notBefore: number): void {
    this.table.setNotBefore(slot, notBefore);
    if (notBefore > Date.now()) {
      this.table.setState(slot, MessageState.Delayed);
      this.delayed.push(seq, notBefore);
    } else {
      this.table.setState(slot, MessageState.Ready);
      this.ready.push(seq);
    }
  }

  private promote(now: number): void {
    for (let due = this.delayed.peekPriority(); due !== null && due <= now; due = this.delayed.peekPriority()) {
      const seq = this.delayed.pop();
      const slot = this.table.slotOf(seq);
      // Stale when the message was settled, or rescheduled for another time, since.
      if (slot < 0 || this.table.stateAt(slot) !== MessageState.Delayed || this.table.notBeforeAt(slot) !== due) continue;
      this.table.setState(slot, MessageState.Ready);
      this.ready.push(seq);
    }
  }

  /** The message gave up its key: the next one of that key may go. */
  private release(seq: number): void {
    const key = this.keys.get(seq);
    if (key === undefined || this.keyHolder.get(key) !== seq) return;
    this.keyHolder.delete(key);
    const waiting = this.keyWaiting.get(key);
    if (!waiting) return;
    let next = waiting.shift();
    while (next !== undefined && !this.isReady(next)) next = waiting.shift();
    if (waiting.length === 0) this.keyWaiting.delete(key);
    if (next !== undefined) this.ready.push(next);
  }

  private isReady(seq: number): boolean {
    const slot = this.table.slotOf(seq);
    return slot >= 0 && this.table.stateAt(slot) === MessageState.Ready;
  }
}
