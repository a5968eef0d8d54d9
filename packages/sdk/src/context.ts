import type { Logger } from 'pino';
import type { CallOptions } from './options.ts';

/** What a handler can do besides returning: call, publish, and read where and when it runs. */
export interface Context {
  /** The site this instance runs in. */
  readonly site: string;
  /** This instance's id. */
  readonly instance: string;
  readonly service: string;
  /** The trace this call belongs to; calls and publishes made through ctx continue it. */
  readonly traceId: string;
  /** Epoch milliseconds after which the caller has given up. */
  readonly deadline: number;
  /** Milliseconds left before the deadline (never negative). */
  remainingMs(): number;
  /** Call another service; the remaining deadline and the trace travel with it. */
  call<Res = unknown>(service: string, method: string, payload?: unknown, options?: CallOptions): Promise<Res>;
  /** Publish to a topic in this trace: at most once, or with `durable: true`, once on disk. */
  publish(topic: string, message: unknown, options?: { durable?: false }): void;
  publish(topic: string, message: unknown, options: { durable: true; id?: string }): Promise<EnqueueResult>;
  /** Put a message on a durable queue; resolves once it is on disk at the broker. */
  enqueue(queue: string, message: unknown, options?: EnqueueOptions): Promise<EnqueueResult>;
  /**
   * A client for one of this service's storage resources (`squadron storage create NAME ...`),
   * made once per instance: kv, a `pg` Pool (postgres), memcached or cassandra.
   *
   * @example
   * const pool = await ctx.storage<import('pg').Pool>('ledger');
   * await pool.query('INSERT INTO entries (id) VALUES ($1)', [id]);
   */
  storage<T = unknown>(name: string): Promise<T>;
  /**
   * The instance's logger, its lines bound to this trace: each carries `service`, `instance`,
   * `site` and `traceId`, so that one request's lines can be found across instances.
   */
  readonly log: Logger;
}

/** A subscription handler's context. */
export interface MessageContext extends Omit<Context, 'deadline' | 'remainingMs'> {
  readonly topic: string;
  /** Durable subscriptions only: the message's id and how many times it has come. */
  readonly messageId?: string;
  readonly deliveryCount?: number;
  readonly redelivered?: boolean;
}

/** A queue consumer's context: which message this is, and how many times it came. */
export interface DeliveryContext extends Omit<Context, 'deadline' | 'remainingMs'> {
  readonly queue: string;
  readonly messageId: string;
  readonly deliveryCount: number;
  /** True from the second delivery on. */
  readonly redelivered: boolean;
}

export interface PublishOptions {
  /** Keep it on disk for the topic's durable subscriptions; the publish resolves once it is. */
  durable?: boolean;
  /** Producer id, for dedup of a durable publish. */
  id?: string;
  traceId?: string;
}

export interface EnqueueOptions {
  /** Producer message id: enqueued again within the dedup window, it is stored once. */
  id?: string;
  /** Messages sharing a key are delivered in order, one at a time. */
  key?: string;
  delayMs?: number;
}

export interface EnqueueResult {
  id: string;
  /** True when the id had been enqueued already (nothing new was stored). */
  duplicate: boolean;
}

/** The parts of a running instance that a context needs. */
export interface ContextHost {
  readonly site: string;
  readonly instance: string;
  readonly service: string;
  readonly log: Logger;
  call<Res>(service: string, method: string, payload: unknown, options: CallOptions): Promise<Res>;
  publish(topic: string, message: unknown, options?: PublishOptions & { durable?: false }): void;
  publish(topic: string, message: unknown, options: PublishOptions & { durable: true }): Promise<EnqueueResult>;
  enqueue(queue: string, message: unknown, options: EnqueueOptions & { traceId?: string }): Promise<EnqueueResult>;
  storage<T>(name: string): Promise<T>;
}

/** What every context reads from the instance it runs in. */
abstract class InstanceContext {
  private traceLog: Logger | undefined;

  constructor(protected readonly host: ContextHost, readonly traceId: string) {}

  get site(): string { return this.host.site; }
  get instance(): string { return this.host.instance; }
  get service(): string { return this.host.service; }
  /** Made when a handler first logs: a request that logs nothing costs no logger. */
  get log(): Logger { return (this.traceLog ??= this.host.log.child({ traceId: this.traceId })); }

  publish(topic: string, message: unknown, options?: { durable?: false }): void;
  publish(topic: string, message: unknown, options: { durable: true; id?: string }): Promise<EnqueueResult>;
  publish(topic: string, message: unknown, options: { durable?: boolean; id?: string } = {}): void | Promise<EnqueueResult> {
    if (options.durable) return this.host.publish(topic, message, { ...options, durable: true, traceId: this.traceId });
    this.host.publish(topic, message, { traceId: this.traceId });
  }

  enqueue(queue: string, message: unknown, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    return this.host.enqueue(queue, message, { ...options, traceId: this.traceId });
  }

  storage<T = unknown>(name: string): Promise<T> {
    return this.host.storage<T>(name);
  }
}

/** One request's context. A class, so that the per-request cost is one small object. */
export class RequestContext extends InstanceContext implements Context {
  constructor(host: ContextHost, traceId: string, readonly deadline: number) {
    super(host, traceId);
  }

  remainingMs(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  call<Res = unknown>(service: string, method: string, payload?: unknown, options: CallOptions = {}): Promise<Res> {
    const remaining = this.deadline - Date.now();
    const timeoutMs = Math.min(options.timeoutMs ?? remaining, remaining);
    return this.host.call<Res>(service, method, payload, { ...options, timeoutMs, traceId: options.traceId ?? this.traceId });
  }
}

/** A subscription handler's context: calls from it continue the message's trace. */
export class SubscriptionContext extends InstanceContext implements MessageContext {
  constructor(host: ContextHost, readonly topic: string, traceId: string) {
    super(host, traceId);
  }

  call<Res = unknown>(service: string, method: string, payload?: unknown, options: CallOptions = {}): Promise<Res> {
    return this.host.call<Res>(service, method, payload, { ...options, traceId: options.traceId ?? this.traceId });
  }
}

/** A queue consumer's context: calls and messages from it continue the message's trace. */
export class QueueDeliveryContext extends InstanceContext implements DeliveryContext, MessageContext {
  constructor(host: ContextHost, readonly queue: string, readonly topic: string, readonly messageId: string, readonly deliveryCount: number, traceId: string) {
    super(host, traceId);
  }

  get redelivered(): boolean {
    return this.deliveryCount > 1;
  }

  call<Res = unknown>(service: string, method: string, payload?: unknown, options: CallOptions = {}): Promise<Res> {
    return this.host.call<Res>(service, method, payload, { ...options, traceId: options.traceId ?? this.traceId });
  }
}
