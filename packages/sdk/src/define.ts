import type { Context, MessageContext, DeliveryContext } from './context.ts';
import { DEFAULT_CONSUME, type ConsumeOptions } from './consumers.ts';

/** A method handler: gets the request payload and the call's context, returns the reply. */
export type MethodHandler<Req = any, Res = any> = (req: Req, ctx: Context) => Res | Promise<Res>;

export interface MethodSpec<Req = any, Res = any> {
  handler: MethodHandler<Req, Res>;
  /**
   * Safe to run more than once for one call. Only idempotent methods are retried on another
   * instance after a failure that may have reached the callee.
   */
  idempotent?: boolean;
  /** `squad`: only callers of the squad that owns this service may call it (default `public`). */
  visibility?: 'public' | 'squad';
}

export type MessageHandler<Msg = any> = (msg: Msg, ctx: MessageContext) => void | Promise<void>;

export interface SubscriptionSpec<Msg = any> {
  handler: MessageHandler<Msg>;
  /** Handler runs at once at most this many (default 64; 8 when durable). */
  concurrency?: number;
  /**
   * Keep the topic's durable publishes for this service while it is away, and deliver each at
   * least once (resolve = ack, throw = retry later). Plain subscriptions are at most once.
   */
  durable?: boolean;
  /** Durable only: deliveries before a message is dead-lettered (default 5). */
  maxDeliveries?: number;
  /** Durable only: a delivery not acknowledged within this is retried (default 30 s). */
  visibilityTimeoutMs?: number;
}

export type QueueHandler<Msg = any> = (msg: Msg, ctx: DeliveryContext) => void | Promise<void>;

/** A durable queue consumer: resolve to acknowledge, throw to have the message retried later. */
export interface ConsumerSpec<Msg = any> extends ConsumeOptions {
  handler: QueueHandler<Msg>;
}

export interface ServiceDefinition {
  name: string;
  methods?: Record<string, MethodHandler | MethodSpec>;
  subscriptions?: Record<string, MessageHandler | SubscriptionSpec>;
  /** Durable queues this service consumes, by queue name: it owns them. */
  consumers?: Record<string, QueueHandler | ConsumerSpec>;
  /**
   * Topics this service publishes: it owns them. The owner squad's services may publish and
   * subscribe to them; other squads' services need a grant (squadron grant CALLER SERVICE
   * --subscribe TOPIC). Topics nobody declares are open to all.
   */
  publishes?: string[];
}

/** A definition after normalisation: every method and subscription in its long form. */
export interface NormalizedService {
  name: string;
  methods: Map<string, Required<MethodSpec>>;
  subscriptions: Map<string, SubscriptionSpec & { concurrency: number; durable: boolean }>;
  consumers: Map<string, Required<ConsumerSpec>>;
  publishes: string[];
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Declare a service. The default export of a service folder's entry file.
 *
 * @example
 * export default defineService({
 *   name: 'greeter',
 *   methods: { hello: async (req: { name: string }, ctx) => ({ text: `hello ${req.name}` }) },
 * });
 */
export function defineService<T extends ServiceDefinition>(definition: T): T {
  normalizeService(definition);
  return definition;
}

/** Validate a definition and expand its short forms. Throws TypeError naming what is wrong. */
export function normalizeService(def: ServiceDefinition): NormalizedService {
  if (!def || typeof def !== 'object') throw new TypeError('a service definition must be an object');
  if (typeof def.name !== 'string' || !NAME.test(def.name)) {
    throw new TypeError(`service name '${String(def.name)}' must be lower-case letters, digits and dashes, starting with a letter`);
  }
  const methods = new Map<string, Required<MethodSpec>>();
  for (const [name, m] of Object.entries(def.methods ?? {})) {
    const spec = typeof m === 'function' ? { handler: m } : m;
    if (!spec || typeof spec.handler !== 'function') throw new TypeError(`method '${name}' of '${def.name}' has no handler function`);
    const visibility = spec.visibility ?? 'public';
    if (visibility !== 'public' && visibility !== 'squad') throw new TypeError(`method '${name}' of '${def.name}': visibility must be 'public' or 'squad'`);
    methods.set(name, { handler: spec.handler, idempotent: spec.idempotent === true, visibility });
  }
  const subscriptions: NormalizedService['subscriptions'] = new Map();
  for (const [topic, s] of Object.entries(def.subscriptions ?? {})) {
    const spec = typeof s === 'function' ? { handler: s } : s;
    if (!spec || typeof spec.handler !== 'function') throw new TypeError(`subscription '${topic}' of '${def.name}' has no handler function`);
    const durable = spec.durable === true;
    subscriptions.set(topic, { ...spec, durable, concurrency: spec.concurrency ?? (durable ? DEFAULT_CONSUME.concurrency : 64) });
  }
  const consumers = new Map<string, Required<ConsumerSpec>>();
  for (const [queue, c] of Object.entries(def.consumers ?? {})) {
    const spec = typeof c === 'function' ? { handler: c } : c;
    if (!spec || typeof spec.handler !== 'function') throw new TypeError(`consumer of queue '${queue}' in '${def.name}' has no handler function`);
    const full = { ...DEFAULT_CONSUME, ...spec };
    if (!Number.isInteger(full.concurrency) || full.concurrency < 1) throw new TypeError(`consumer of '${queue}': concurrency must be a whole number from 1`);
    if (!Number.isInteger(full.maxDeliveries) || full.maxDeliveries < 1) throw new TypeError(`consumer of '${queue}': maxDeliveries must be a whole number from 1`);
    if (!(full.visibilityTimeoutMs >= 10)) throw new TypeError(`consumer of '${queue}': visibilityTimeoutMs must be at least 10`);
    consumers.set(queue, full);
  }
  const publishes = def.publishes ?? [];
  if (!Array.isArray(publishes) || publishes.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new TypeError(`publishes of '${def.name}' must be a list of topic names`);
  }
  return { name: def.name, methods, subscriptions, consumers, publishes: [...new Set(publishes)] };
}
