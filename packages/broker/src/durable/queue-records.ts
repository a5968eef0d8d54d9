import { encode, decode, ProtocolError } from '@squadron/protocol';

/** What the durable log holds for queues. Bodies are msgpack arrays, decoded with checks. */
export const QueueRecordType = {
  /** [queue, seq, producerId|null, key|null, notBefore, enqueuedAt, traceId, payload] */
  Enqueue: 1,
  /** [queue, seq] */
  Ack: 2,
  /** [queue, seq, deliveries, notBefore, error]: a delivery failed; retry after notBefore */
  Failed: 3,
  /** [queue, seq, deliveries, error]: moved to the dead-letter queue */
  Dead: 4,
  /** [queue, seq, notBefore]: taken back from the dead-letter queue to be delivered again */
  Revived: 5,
  /** [topic, group]: a durable subscription; the topic's durable publishes are kept for it */
  DurableSubscription: 6,
} as const;

export interface EnqueueRecord {
  queue: string;
  seq: number;
  producerId: string | null;
  key: string | null;
  notBefore: number;
  enqueuedAt: number;
  traceId: string;
  payload: Buffer;
}

/**
 * An enqueue record's body: `u16 headerLength | msgpack header | payload`, the payload as the
 * producer sent it (never re-encoded). Returns the parts to append, in order.
 */
export function encodeEnqueue(r: EnqueueRecord): [Buffer, Buffer] {
  const header = encode([r.queue, r.seq, r.producerId, r.key, r.notBefore, r.enqueuedAt, r.traceId]);
  const head = Buffer.allocUnsafe(2 + header.length);
  head.writeUInt16BE(header.length, 0);
  header.copy(head, 2);
  return [head, r.payload];
}

export function decodeEnqueue(body: Buffer): EnqueueRecord {
  if (body.length < 2) throw new ProtocolError('malformed enqueue record');
  const headerLength = body.readUInt16BE(0);
  if (2 + headerLength > body.length) throw new ProtocolError('malformed enqueue record');
  const v = decode(body.subarray(2, 2 + headerLength)) as unknown[];
  if (!Array.isArray(v) || v.length !== 7 || typeof v[0] !== 'string' || typeof v[1] !== 'number') {
    throw new ProtocolError('malformed enqueue record');
  }
  return {
    queue: v[0], seq: v[1], producerId: (v[2] as string | null) ?? null, key: (v[3] as string | null) ?? null,
    notBefore: Number(v[4]), enqueuedAt: Number(v[5]), traceId: String(v[6]), payload: body.subarray(2 + headerLength),
  };
}

/** The small records: a queue name, a sequence number and a few fields. */
export function encodeSmall(fields: unknown[]): Buffer {
  return encode(fields);
}

export function decodeSmall(body: Buffer): [string, number, ...unknown[]] {
  const v = decode(body) as unknown[];
  if (!Array.isArray(v) || typeof v[0] !== 'string' || typeof v[1] !== 'number') throw new ProtocolError('malformed queue record');
  return v as [string, number, ...unknown[]];
}
