import type { Logger } from 'pino';
import { decode } from '@squadron/protocol';
import { DurableLog, type LogPosition } from './durable-log.ts';
import { QueueState, type QueueEntry, type QueueCounters } from './queue-state.ts';
import { BodyReader } from './body-reader.ts';
import { RECORD_HEADER_BYTES } from './record.ts';
import { QueueRecordType, encodeEnqueue, decodeEnqueue, encodeSmall, decodeSmall } from './queue-records.ts';

export interface QueueStoreOptions {
  dir: string;
  logger: Logger;
  /** A producer id seen within this window is stored once (default 2 minutes). */
  dedupWindowMs?: number;
  /** Bytes of recent bodies kept in memory (default 64 MiB). */
  bodyCacheBytes?: number;
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
  entry: QueueEntry;
  /** The msgpack payload as the producer sent it. */
  payload: Buffer;
}

export interface QueueStats extends QueueCounters {
  queue: string;
  depth: number;
  inFlight: number;
  dead: number;
}

interface Seen {
  seq: number;
  at: number;
}

/**
 * The broker's queues on its durable log. An enqueue resolves only once its record is synced;
 * acks, failures and dead-lettering are written too, so that a restart rebuilds every queue as
 * it was. Delivery state written lazily (an ack lost in a crash) only means a redelivery: at
 * least once.
 */
export class QueueStore {
  private readonly queues = new Map<string, QueueState>();
  private readonly seen = new Map<string, Map<string, Seen>>();
  private readonly lengths = new Map<number, number>();
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
    this.bodies = new BodyReader(options.dir, options.bodyCacheBytes ?? 64 * 1024 * 1024);
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

  get corruptRecords(): number {
    return this.log.stats.corrupt;
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
      const prior = this.seenFor(queueName).get(options.id);
      if (prior && now - prior.at < this.dedupWindowMs) return { id: options.id, seq: prior.seq, duplicate: true };
    }
    const seq = this.nextSeq++;
    const id = options.id ?? `${queueName}:${seq}`;
    if (options.id !== undefined) this.seenFor(queueName).set(options.id, { seq, at: now });
    const record = {
      queue: queueName, seq, producerId: options.id ?? null, key: options.key ?? null,
      notBefore: now + Math.max(0, options.delayMs ?? 0), enqueuedAt: now, traceId: options.traceId ?? '', payload,
    };
    const [head, body] = encodeEnqueue(record);
    let position: LogPosition;
    try {
      position = await this.log.append(QueueRecordType.Enqueue, head, body);
    } catch (err) {
      if (options.id !== undefined) this.seenFor(queueName).delete(options.id);
      throw err;
    }
    this.lengths.set(seq, RECORD_HEADER_BYTES + 1 + head.length + body.length);
    this.bodies.remember(seq, body);
    this.liveBySegment.set(position.segment, (this.liveBySegment.get(position.segment) ?? 0) + 1);
    this.queue(queueName).add(this.entryOf(record, position));
    return { id, seq, duplicate: false };
  }

  /** The next message of a queue due now, with its payload, or null. */
  async take(queueName: string): Promise<Taken | null> {
    const entry = this.queues.get(queueName)?.take(Date.now());
    if (!entry) return null;
    const cached = this.bodies.cached(entry.seq);
    if (cached !== undefined) return { entry, payload: cached };
    const body = await this.bodies.read(entry.position, this.lengths.get(entry.seq)!);
    return { entry, payload: decodeEnqueue(body).payload };
  }

  /** Acknowledged by its consumer. Written without waiting for a sync: a lost ack redelivers. */
  ack(queueName: string, seq: number): boolean {
    const entry = this.queues.get(queueName)?.ack(seq);
    if (!entry) return false;
    this.settled(entry);
    void this.log.append(QueueRecordType.Ack, encodeSmall([queueName, seq])).catch((err: unknown) => this.writeFailed(err));
    return true;
  }

  /**
   * A delivery failed. Retried after `backoffMs` unless it has had `maxDeliveries`, in which case
   * it moves to the dead-letter queue with its last error.
   */
  async fail(queueName: string, seq: number, error: string, maxDeliveries: number, backoffMs: number): Promise<'retry' | 'dead' | 'gone'> {
    const q = this.queues.get(queueName);
    const entry = q?.entries.get(seq);
    if (!q || !entry || entry.state !== 'inflight') return 'gone';
    if (entry.deliveries >= maxDeliveries) {
      q.kill(seq, error);
      this.bodies.forget(seq);
      await this.log.append(QueueRecordType.Dead, encodeSmall([queueName, seq, entry.deliveries, error]));
      return 'dead';
    }
    const notBefore = Date.now() + backoffMs;
    q.fail(seq, notBefore, error);
    await this.log.append(QueueRecordType.Failed, encodeSmall([queueName, seq, entry.deliveries, notBefore, error]));
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

  deadLetters(queueName: string): QueueEntry[] {
    return this.queues.get(queueName)?.deadEntries() ?? [];
  }

  /** Put every dead-lettered message of a queue back for delivery; returns how many. */
  async revive(queueName: string): Promise<number> {
    const q = this.queues.get(queueName);
    if (!q) return 0;
    const dead = q.deadEntries();
    const now = Date.now();
    await Promise.all(dead.map((e) => this.log.append(QueueRecordType.Revived, encodeSmall([queueName, e.seq, now]))));
    for (const e of dead) q.revive(e.seq, now);
    return dead.length;
  }

  stats(): QueueStats[] {
    return this.queueNames().map((name) => {
      const q = this.queues.get(name)!;
      return { queue: name, depth: q.depth, inFlight: q.inFlight, dead: q.deadCount, ...q.counters };
    });
  }

  async close(): Promise<void> {
    if (this.compactTimer) clearInterval(this.compactTimer);
    while (this.compacting) await new Promise((r) => setTimeout(r, 5));
    await this.log.close();
    await this.bodies.close();
  }

  private entryOf(r: ReturnType<typeof decodeEnqueue>, position: LogPosition): QueueEntry {
    return {
      seq: r.seq, key: r.key, producerId: r.producerId, traceId: r.traceId, enqueuedAt: r.enqueuedAt, position,
      notBefore: r.notBefore, deliveries: 0, state: 'ready', lastError: null,
    };
  }

  private seenFor(queueName: string): Map<string, Seen> {
    let m = this.seen.get(queueName);
    if (!m) this.seen.set(queueName, (m = new Map()));
    return m;
  }

  /** Producer ids older than the dedup window are no longer needed: keep memory bounded. */
  private forgetExpiredIds(now: number): void {
    for (const [queue, ids] of this.seen) {
      for (const [id, seen] of ids) if (now - seen.at >= this.dedupWindowMs) ids.delete(id);
      if (ids.size === 0) this.seen.delete(queue);
    }
  }

  private settled(entry: QueueEntry): void {
    this.lengths.delete(entry.seq);
    this.bodies.forget(entry.seq);
    const segment = entry.position.segment;
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
      this.lengths.set(r.seq, RECORD_HEADER_BYTES + 1 + body.length);
      this.liveBySegment.set(position.segment, (this.liveBySegment.get(position.segment) ?? 0) + 1);
      const q = this.queue(r.queue);
      q.add(this.entryOf(r, position));
      if (r.producerId !== null && Date.now() - r.enqueuedAt < this.dedupWindowMs) this.seenFor(r.queue).set(r.producerId, { seq: r.seq, at: r.enqueuedAt });
      return;
    }
    if (type === QueueRecordType.DurableSubscription) {
      const [topic, group] = decode(body) as [unknown, unknown];
      if (typeof topic === 'string' && typeof group === 'string') this.addDurable(topic, group);
      return;
    }
    const [queueName, seq, ...rest] = decodeSmall(body);
    const q = this.queues.get(queueName);
    const entry = q?.entries.get(seq);
    if (!q || !entry) return;
    switch (type) {
      case QueueRecordType.Ack:
        q.ack(seq);
        this.settled(entry);
        return;
      case QueueRecordType.Failed: {
        // Replay of a failed delivery: count it, and keep the message for its retry.
        const [deliveries, notBefore, error] = rest as [number, number, string];
        entry.deliveries = deliveries;
        entry.lastError = error;
        entry.notBefore = notBefore;
        return;
      }
      case QueueRecordType.Dead: {
        const [deliveries, error] = rest as [number, string];
        entry.deliveries = deliveries;
        q.kill(seq, error);
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
