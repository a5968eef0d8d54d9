/**
 * Frame kinds. Every frame is `u32 length | u8 kind | u32 id | body`, where `length` counts the
 * bytes after itself. The meaning of `id` depends on the kind (request id, subscription id, 0).
 */
export const FrameKind = {
  /** server → client, first frame on every connection: { nonce, site, role, version } */
  Hello: 1,
  /** client → server: identity claims answering Hello */
  Auth: 2,
  /** server → client: handshake accepted */
  Ready: 3,
  /**
   * client → server, any time after Ready: body msgpack AuthBody with a renewed credential and a
   * proof over the connection's Hello nonce. The same holder, for longer; nothing is answered,
   * and a refusal closes the connection with AUTH_FAILED.
   */
  Reauth: 4,
  /** request: id = request id; body msgpack [method, deadlineEpochMs, traceId, payload] */
  Request: 10,
  /** reply: id = request id; body msgpack payload */
  Reply: 11,
  /** error reply: id = request id; body msgpack [code, message, retryable, details] */
  ErrorReply: 12,
  /** fire-and-forget publish: id = 0; body = an envelope (envelope.ts): topic, trace id, group, payload */
  Publish: 20,
  /** broker → subscriber: id = subscription id; body as Publish */
  Message: 21,
  /** client → broker: id = subscription id; body msgpack { topic, group } */
  Subscribe: 22,
  /** client → broker: id = subscription id */
  Unsubscribe: 23,
  /**
   * broker → client: id = subscription or consumer id; body msgpack [what, WireError], what is
   * 'subscription' or 'consumer': the broker will not serve it (a policy refused it), and serves
   * it again by itself once a policy change allows it.
   */
  Refused: 24,
  /** instance → broker: body msgpack InstanceInfo */
  Register: 30,
  /** instance → broker: leave the registry now (draining) */
  Deregister: 31,
  /** client → broker: stream the registry; id = watch id */
  Watch: 32,
  /** broker → watcher: body msgpack RegistryEvent */
  RegistryEvent: 33,
  /** instance → broker: load report { inFlight } */
  Load: 34,
  /**
   * client or instance → broker: body msgpack [[subscription id, dropped], ...]: the messages each
   * of its subscriptions dropped itself since it began, its handler behind and its queue full
   * (sent when they change); the broker shows them in its stats.
   */
  Drops: 35,
  /** either side: id = correlation id; Pong echoes it */
  Ping: 40,
  Pong: 41,
  /** client → broker: id = correlation; body msgpack StatsRequest; answered by Reply */
  Query: 42,
  /** broker ↔ broker: interest for a topic (group) appears or goes away */
  Interest: 50,
  /** broker → broker: a publish forwarded for one group in the receiving site */
  Forward: 51,
  /** client → broker: id = correlation; body msgpack EnqueueBody; answered by Reply EnqueueReply */
  Enqueue: 70,
  /** client → broker: id = consumer id (from the client's correlation ids); body msgpack ConsumeBody; answered by Reply */
  Consume: 71,
  /** broker → consumer: id = consumer id; body msgpack DeliveryBody */
  Delivery: 72,
  /** consumer → broker: id = consumer id; body msgpack [seq] */
  Ack: 73,
  /** consumer → broker: id = consumer id; body msgpack [seq, error] */
  Nack: 74,
  /** client → broker: id = consumer id; stop delivering to this consumer */
  StopConsume: 75,
  /** client → broker: id = correlation; body msgpack { topic, group }: keep this group's messages while it is away */
  SubscribeDurable: 76,
  /** client → broker: id = correlation; body msgpack PublishDurableBody; answered once on disk */
  PublishDurable: 77,
  /** either side, last frame: body msgpack [code, message] */
  Goaway: 60,
} as const;

export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const known = new Set<number>(Object.values(FrameKind));

export function isFrameKind(kind: number): kind is FrameKind {
  return known.has(kind);
}

export function frameKindName(kind: number): string {
  for (const [name, value] of Object.entries(FrameKind)) if (value === kind) return name;
  return `unknown(${kind})`;
}
