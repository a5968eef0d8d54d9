import type { Logger } from 'pino';
import { decode, UnavailableError } from '@squadron/protocol';
import type { QueueUsage, UsageSource } from './queue-quotas.ts';
import { DurableLog, type DurableLogStats, type LogPosition } from './durable-log.ts';
import { QueueState, type QueueCounters } from './queue-state.ts';
import { BodyReader } from './body-reader.ts';
import { DedupWindow } from './dedup-window.ts';
import { QueueRecordType, encodeEnqueue, decodeEnqueue, encodeSmall, decodeSmall } from './queue-records.ts';

export interface QueueStoreOptions {
  dir: string;
  logger: Logger;
  /** A producer id seen within this window is stored once (default 2 minutes). */
  dedupWindowMs?: number;
  segmentBytes?: number;
  simulatePowerLoss?: boolean;
  /** How often settled segments are looked for and deleted (default 5 s; 0 turns it off). */
  compactEveryMs?: number;
}

export interface EnqueueOptions {
  /** Producer message id: the same id within the window is stored once. */
  id?: string;
  /** Messages with the same key are delivered in order, one at a time. */
  key?: string;
  delayMs?: number;
  traceId?: string;
}

export interface EnqueueResult {
  id: string;
  seq: number;
  duplicate: boolean;
}

/** A message handed out for delivery. */
export interface Taken {
  seq: number;
  /** The producer's id, or one made from the queue and seq. */
  id: string;
  /** This delivery's number: 1 the first time. */
  deliveries: number;
  traceId: string;
  /** The msgpack payload as the producer sent it. */
  payload: Buffer;
}

/** A dead-lettered message, as listed. */
export interface DeadLetter {
  seq: number;
  id: string;
  deliveries: number;
  error: string | null;
  enqueuedAt: number;
}

export interface QueueStats extends QueueCounters {
  queue: string;
  depth: number;
  inFlight: number;
  dead: number;
  /** Messages kept (waiting, in flight and dead): what the queue's limit counts. */
  stored: number;
  /** Payload bytes of the messages kept. */
  bytes: number;
}

/** Refuses (throws) one more message of `bytes` in each of `queues`; see QueueQuotaGuard. */
export type Admission = (queues: readonly string[], bytes: number) => void;

/**
 * The broker's queues on its durable log. An enqueue resolves only once its record is synced;
 * acks, failures and dead-lettering are written too, so that a restart rebuilds every queue as
 * it was. Delivery state written lazily (an ack lost in a crash) only means a redelivery: at
 * least once.
 */
export class QueueStore implements UsageSource {
  private readonly queues = new Map<string, QueueState>();
  /** Enqueues under way (not yet on disk), per queue: they count toward its limit already. */
  private readonly pending = new Map<string, QueueUsage>();
  /** What decides whether a message may be stored; none: everything may. */
  admission: Admission | null = null;
  private readonly seen = new Map<string, DedupWindow>();
  /** topic → groups with a durable subscription */
  private readonly durable = new Map<string, Set<string>>();
  /** segment → messages enqueued in it that are not settled yet (dead letters count) */
  private readonly liveBySegment = new Map<number, number>();
  private compactTimer: NodeJS.Timeout | null = null;
  private compacting = false;
  private nextSeq = 1;
  private log!: DurableLog;
  private readonly bodies: BodyReader;
  private readonly dedupWindowMs: number;

  private constructor(private readonly options: QueueStoreOptions) {
    this.dedupWindowMs = options.dedupWindowMs ?? 120_000;
    this.bodies = new BodyReader(options.dir);
  }

  static async open(options: QueueStoreOptions): Promise<QueueStore> {
    const store = new QueueStore(options);
    store.log = await DurableLog.open(
      { dir: options.dir, logger: options.logger, ...(options.segmentBytes ? { segmentBytes: options.segmentBytes } : {}), ...(options.simulatePowerLoss ? { simulatePowerLoss: true } : {}) },
      (type, body, position) => store.replay(type, body, position),
    );
    const every = options.compactEveryMs ?? 5000;
    if (every > 0) {
      store.compactTimer = setInterval(() => void store.compact(), every);
      store.compactTimer.unref();
    }
    return store;
  }

  /** The durable log's counters: records appended and fdatasyncs since start, segments, corrupt records found. */
  get logStats(): DurableLogStats {
    return { ...this.log.stats };
  }

  queue(name: string): QueueState {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = new QueueState(name)));
    return q;
  }

  queueNames(): string[] {
    return [...this.queues.keys()].sort();
  }

  async enqueue(queueName: string, payload: Buffer, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    const now = Date.now();
    if (options.id !== undefined) {
      const prior = this.seenFor(queueName).lookup(options.id, now);
      if (prior !== undefined) return { id: options.id, seq: prior, duplicate: true };
    }
    this.admission?.([queueName], payload.length);
    const seq = this.nextSeq++;
    const id = options.id ?? `${queueName}:${seq}`;
    if (options.id !== undefined) this.seenFor(queueName).remember(options.id, seq, now);
    const notBefore = now + Math.max(0, options.delayMs ?? 0);
    const key = options.key ?? null;
    const [head, body] = encodeEnqueue({ queue: queueName, seq, producerId: options.id ?? null, key, notBefore, enqueuedAt: now, traceId: options.traceId ?? '', payload });
    let position: LogPosition;
    this.reserve(queueName, payload.length, 1);
    try {
      // The record is encoded (the payload copied) before this awaits: a view of a frame will do.
      position = await this.log.append(QueueRecordType.Enqueue, head, body);
    } catch (err) {
      if (options.id !== undefined) this.seenFor(queueName).forget(options.id, seq);
      throw diskFull(err) ?? err;
    } finally {
      this.reserve(queueName, payload.length, -1);
    }
    this.added(queueName, seq, position, notBefore, key, payload.length);
    return { id, seq, duplicate: false };
  }

  /** What a queue holds, enqueues under way included. */
  usage(queueName: string): QueueUsage {
    const q = this.queues.get(queueName);
    const pending = this.pending.get(queueName);
    return { messages: (q?.stored ?? 0) + (pending?.messages ?? 0), bytes: (q?.bytes ?? 0) + (pending?.bytes ?? 0) };
  }

  eachUsage(visit: (queue: string, usage: QueueUsage) => void): void {
    for (const name of this.queues.keys()) visit(name, this.usage(name));
    for (const name of this.pending.keys()) if (!this.queues.has(name)) visit(name, this.usage(name));
  }

  private reserve(queueName: string, bytes: number, sign: 1 | -1): void {
    const p = this.pending.get(queueName) ?? { messages: 0, bytes: 0 };
    p.messages += sign;
    p.bytes += sign * bytes;
    if (p.messages === 0) this.pending.delete(queueName);
    else this.pending.set(queueName, p);
  }

  private added(queueName: string, seq: number, place: LogPosition, notBefore: number, key: string | null, bytes: number): void {
    this.liveBySegment.set(place.segment, (this.liveBySegment.get(place.segment) ?? 0) + 1);
    this.queue(queueName).add(seq, place, notBefore, key, bytes);
  }

  /** The next message of a queue due now, with its payload, or null. */
  async take(queueName: string): Promise<Taken | null> {
    const q = this.queues.get(queueName);
    const seq = q?.take(Date.now()) ?? -1;
    if (seq < 0) return null;
    const { place, deliveries } = q!.taken(seq)!;
    let record: Buffer;
    try {
      record = await this.bodies.read(place);
    } catch (err) {
      // Not delivered, so held by no consumer: put it back for a later try rather than leave it in flight.
      q!.fail(seq, Date.now() + 1000, `could not be read back from the log: ${(err as Error).message}`);
      throw err;
    }
    const r = decodeEnqueue(record);
    return { seq, id: r.producerId ?? `${queueName}:${seq}`, deliveries, traceId: r.traceId, payload: r.payload };
  }

  /** How many times a message has been handed out (0 once it is settled). */
  deliveries(queueName: string, seq: number): number {
    return this.queues.get(queueName)?.deliveries(seq) ?? 0;
  }

  /** The enqueue record's body of a message still in the queue, read back from the log. */
  private recordOf(q: QueueState, seq: number): Promise<Buffer> {
    const place = q.place(seq);
    if (!place) throw new Error(`message ${seq} of ${q.name} is not in the queue`);
    return this.bodies.read(place);
  }

  /** Acknowledged by its consumer. Written without waiting for a sync: a lost ack redelivers. */
  ack(queueName: string, seq: number): boolean {
    const place = this.queues.get(queueName)?.ack(seq);
    if (!place) return false;
    this.settled(seq, place);
    void this.log.append(QueueRecordType.Ack, encodeSmall([queueName, seq])).catch((err: unknown) => this.writeFailed(err));
    return true;
  }

  /**
   * A delivery failed. Retried after `backoffMs` unless it has had `maxDeliveries`, in which case
   * it moves to the dead-letter queue with its last error.
   */
  async fail(queueName: string, seq: number, error: string, maxDeliveries: number, backoffMs: number): Promise<'retry' | 'dead' | 'gone'> {
    const q = this.queues.get(queueName);
    if (!q || !q.isInFlight(seq)) return 'gone';
    const deliveries = q.deliveries(seq);
    if (deliveries >= maxDeliveries) {
      q.kill(seq, error);
      await this.log.append(QueueRecordType.Dead, encodeSmall([queueName, seq, deliveries, error]));
      return 'dead';
    }
    const notBefore = Date.now() + backoffMs;
    q.fail(seq, notBefore, error);
    await this.log.append(QueueRecordType.Failed, encodeSmall([queueName, seq, deliveries, notBefore, error]));
    return 'retry';
  }

  /** Record a durable subscription (once): from now on the topic's durable publishes are kept for it. */
  async subscribeDurable(topic: string, group: string): Promise<void> {
    if (this.durable.get(topic)?.has(group)) return;
    await this.log.append(QueueRecordType.DurableSubscription, encodeSmall([topic, group]));
    this.addDurable(topic, group);
  }

  hasDurable(topic: string): boolean {
    return this.durable.has(topic);
  }

  durableGroups(topic: string): string[] {
    return [...(this.durable.get(topic) ?? [])];
  }

  private addDurable(topic: string, group: string): void {
    let groups = this.durable.get(topic);
    if (!groups) this.durable.set(topic, (groups = new Set()));
    groups.add(group);
  }

  /** The dead-lettered messages of a queue, oldest first, at most `limit`; read back from the log. */
  async deadLetters(queueName: string, limit = 1000): Promise<DeadLetter[]> {
    const q = this.queues.get(queueName);
    if (!q) return [];
    const out: DeadLetter[] = [];
    for (const seq of q.deadSeqs(limit)) {
      const r = decodeEnqueue(await this.recordOf(q, seq));
      out.push({ seq, id: r.producerId ?? `${queueName}:${seq}`, deliveries: q.deliveries(seq), error: q.lastError(seq), enqueuedAt: r.enqueuedAt });
    }
    return out;
  }

  /** Put every dead-lettered message of a queue back for delivery; returns how many. */
  async revive(queueName: string): Promise<number> {
    const q = this.queues.get(queueName);
    if (!q) return 0;
    const dead = q.deadSeqs();
    const now = Date.now();
    await Promise.all(dead.map((seq) => this.log.append(QueueRecordType.Revived, encodeSmall([queueName, seq, now]))));
    for (const seq of dead) q.revive(seq, now);
    return dead.length;
  }

  stats(): QueueStats[] {
    return this.queueNames().map((name) => {
      const q = this.queues.get(name)!;
      return { queue: name, depth: q.depth, inFlight: q.inFlight, dead: q.dead, stored: q.stored, bytes: q.bytes, ...q.counters };
    });
  }

  async close(): Promise<void> {
    if (this.compactTimer) clearInterval(this.compactTimer);
    while (this.compacting) await new Promise((r) => setTimeout(r, 5));
    await this.log.close();
    await this.bodies.close();
  }

  private seenFor(queueName: string): DedupWindow {
    let w = this.seen.get(queueName);
    if (!w) this.seen.set(queueName, (w = new DedupWindow(this.dedupWindowMs)));
    return w;
  }

  /** Producer ids older than the dedup window are no longer needed: keep memory bounded. */
  private forgetExpiredIds(now: number): void {
    for (const [queue, window] of this.seen) {
      window.expire(now);
      if (window.size === 0) this.seen.delete(queue);
    }
  }

  private settled(seq: number, place: LogPosition): void {
    const segment = place.segment;
    const live = (this.liveBySegment.get(segment) ?? 1) - 1;
    if (live > 0) this.liveBySegment.set(segment, live);
    else this.liveBySegment.delete(segment);
  }

  /**
   * Delete the oldest segments once every message enqueued in them is settled, and they are
   * older than the dedup window (a producer retry must still be recognised after a restart).
   * The only records such a segment can hold that still matter are durable subscriptions: they
   * are written again first. Returns how many segments went.
   */
  async compact(now = Date.now()): Promise<number> {
    if (this.compacting) return 0;
    this.compacting = true;
    this.forgetExpiredIds(now);
    try {
      const ids = this.log.segmentIds;
      let cut: number | null = null;
      for (const id of ids.slice(0, -1)) {
        if ((this.liveBySegment.get(id) ?? 0) > 0) break;
        if (now - (await this.log.segmentWrittenAt(id)) < this.dedupWindowMs) break;
        cut = id;
      }
      if (cut === null) return 0;
      for (const [topic, groups] of this.durable) {
        for (const group of groups) await this.log.append(QueueRecordType.DurableSubscription, encodeSmall([topic, group]));
      }
      const before = ids.length;
      for (const id of ids) if (id <= cut) await this.bodies.closeSegment(id);
      await this.log.removeSegmentsBefore(cut + 1);
      return before - this.log.segmentIds.length;
    } finally {
      this.compacting = false;
    }
  }

  private writeFailed(err: unknown): void {
    this.options.logger.error({ err }, 'writing to the durable log failed');
  }

  /** Rebuild the queues from one record of the log. */
  private replay(type: number, body: Buffer, position: LogPosition): void {
    if (type === QueueRecordType.Enqueue) {
      const r = decodeEnqueue(body);
      this.nextSeq = Math.max(this.nextSeq, r.seq + 1);
      this.added(r.queue, r.seq, position, r.notBefore, r.key, r.payload.length);
      if (r.producerId !== null) this.seenFor(r.queue).remember(r.producerId, r.seq, r.enqueuedAt);
      return;
    }
    if (type === QueueRecordType.DurableSubscription) {
      const [topic, group] = decode(body) as [unknown, unknown];
      if (typeof topic === 'string' && typeof group === 'string') this.addDurable(topic, group);
      return;
    }
    const [queueName, seq, ...rest] = decodeSmall(body);
    const q = this.queues.get(queueName);
    if (!q || !q.has(seq)) return;
    switch (type) {
      case QueueRecordType.Ack: {
        const place = q.ack(seq);
        if (place) this.settled(seq, place);
        return;
      }
      case QueueRecordType.Failed: {
        // Replay of a failed delivery: count it, and keep the message for its retry.
        const [deliveries, notBefore, error] = rest as [number, number, string];
        q.restoreFailed(seq, Number(deliveries), Number(notBefore), String(error));
        return;
      }
      case QueueRecordType.Dead: {
        const [deliveries, error] = rest as [number, string];
        q.restoreDead(seq, Number(deliveries), String(error));
        return;
      }
      case QueueRecordType.Revived:
        q.revive(seq, Number(rest[0]));
        return;
      default:
        return;
    }
  }
}

/**
 * The disk is full: a typed, retryable refusal of this enqueue. Nothing of it was acknowledged;
 * deliveries, acks and reads go on, and enqueues are taken again once space is back.
 */
function diskFull(err: unknown): UnavailableError | null {
  if ((err as NodeJS.ErrnoException | null)?.code !== 'ENOSPC') return null;
  return new UnavailableError('the broker\'s disk is full: this message was not stored; deliveries and acks go on, and enqueues are taken again once space is freed (retry later)');
}
