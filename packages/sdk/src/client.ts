import pino, { type Logger } from 'pino';
import { FrameKind, SquadronError, encodeTransient, encodeEnvelopeField, durableQueueName, ClosedError, type EnqueueBody, type ConsumeBody, type PublishDurableBody, BadRequestError, PayloadTooLargeError, DEFAULT_LIMITS, MAX_ENVELOPE_FIELD_BYTES, TimeoutError, type AuthBody, type WireLimits, type InstanceInfo } from '@squadron/protocol';
import { BrokerSession } from './broker-session.ts';
import { Directory } from './directory.ts';
import { RetryBudget } from './retry-budget.ts';
import { Caller } from './caller.ts';
import { LocalSubscription, type Subscription, type Delivery } from './subscriptions.ts';
import {
  SubscriptionContext, QueueDeliveryContext, type ContextHost, type MessageContext, type DeliveryContext,
  type EnqueueOptions, type EnqueueResult, type PublishOptions,
} from './context.ts';
import { LocalConsumer, DEFAULT_CONSUME, type Consumer, type ConsumeOptions } from './consumers.ts';
import { newTraceId } from './trace.ts';
import {
  DEFAULT_TIMEOUT_MS, DEFAULT_RETRY_POLICY, DEFAULT_OUTLIER_POLICY,
  type CallOptions, type BalancePolicy, type RetryPolicy, type OutlierPolicy,
} from './options.ts';
import { resolveBroker, requestClientIdentity, fetchPolicies, type ClientIdentity } from './resolve-broker.ts';
import { authWith } from './identity-auth.ts';
import type { AuthSource } from '@squadron/transport';
import { Identity } from '@squadron/identity';
import { CallerGuard } from './caller-guard.ts';
import { reportDrops } from './drop-report.ts';
import type { StorageHolder } from './storage-source.ts';
import { PolicyHolder, type PolicySource } from './policy-source.ts';
import { Rejections } from './rejections.ts';
import { PayloadFailures, type UndecodableCounts } from './payload-failures.ts';
import { PolicyWatcher } from '@squadron/policy';

export interface ConnectOptions {
  /** The site this process lives in; its broker is the one used. */
  site: string;
  /** The site broker's address. Without it, the control plane at `url` is asked. */
  broker?: string;
  /** The platform's API (default SQUADRON_URL, then http://127.0.0.1:7700). */
  url?: string;
  /** Shown in the broker's status and logs. */
  name?: string;
  /**
   * This process's credential and key, proven in every handshake where identities are
   * checked. Default: the one an agent put in the environment; null: none.
   */
  identity?: Identity | null;
  balance?: BalancePolicy;
  retry?: Partial<RetryPolicy>;
  outlier?: Partial<OutlierPolicy>;
  limits?: WireLimits;
  logger?: Logger;
  /** How long to try to reach the broker before giving up (default 5000 ms). */
  connectTimeoutMs?: number;
  /**
   * The platform's access policies, to refuse at once what callees and brokers would refuse.
   * Default: when this process asks the platform for its credential, it follows them too.
   */
  policies?: PolicySource;
}

/** What `client.stats()` tells. */
export interface ClientStats {
  /** Connections made to the site's broker: 1 while the first one holds, more after reconnects. */
  brokerConnects: number;
  /** Payloads that could not be decoded, per site; each failed its own message only. */
  undecodable: UndecodableCounts;
  /** Plain publishes dropped because the broker connection was down. */
  publishDropped: number;
}

export interface SubscribeOptions {
  /** Subscribers sharing a group share its messages. Default: a group of its own. */
  group?: string;
  concurrency?: number;
  /** Messages held while the handler is busy; more are dropped and counted (default 1024). */
  maxQueued?: number;
  /**
   * Called with each refusal by the broker: the first also rejects `ready`; a later one (a grant
   * revoked, a refusal after a reconnect) stops the messages until a policy change allows them.
   * Default: each is logged as an error.
   */
  onRefused?: (err: SquadronError) => void;
}

/** Internal construction parameters shared with the service runtime. */
export interface ClientInit {
  session: BrokerSessionInit;
  site: string;
  name: string;
  instance: string;
  service: string;
  log: Logger;
  balance: BalancePolicy;
  retry: RetryPolicy;
  outlier: OutlierPolicy;
  limits?: WireLimits;
  /** The mirror of callees' and brokers' policies: refusals they would give, given at once. */
  guard?: CallerGuard;
}

interface BrokerSessionInit {
  address: string;
  auth: AuthSource;
  /** Extra work after each (re)connect, before the watch (the runtime registers here). */
  onConnected?: (session: BrokerSession) => void;
}

let subscriberCounter = 0;

/** Trace ids are printable ASCII, so that they travel in any header unchanged. */
const TRACE_ID = /^[\x21-\x7e]+$/;
const MAX_TRACE_ID = 128;

/** Topics are what the wire carries: 1 to 255 bytes of UTF-8. */
function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic.length === 0 || Buffer.byteLength(topic) > MAX_ENVELOPE_FIELD_BYTES) {
    throw new BadRequestError(`a topic is a string of 1 to ${MAX_ENVELOPE_FIELD_BYTES} bytes, got ${JSON.stringify(topic)?.slice(0, 40)}`);
  }
}

/**
 * A connection to the platform: call services, publish, subscribe. One per process; services
 * get one from their runtime, other processes from `connect()`.
 */
export class Client implements ContextHost {
  readonly site: string;
  readonly instance: string;
  readonly service: string;
  readonly log: Logger;
  readonly directory: Directory;
  readonly session: BrokerSession;
  private readonly caller: Caller;
  private readonly guard: CallerGuard | null;
  private readonly subs = new Map<number, LocalSubscription>();
  private readonly consumers = new Map<number, LocalConsumer>();
  private nextSid = 0;
  private closed = false;
  private readonly closers: Array<() => void> = [];
  private readonly maxPayload: number;
  private readonly topicFields = new Map<string, Buffer>();
  /** Publishes refused because the broker connection was down (at most once: not queued). */
  publishDropped = 0;
  /** Payloads that could not be decoded (requests, replies, messages, deliveries), counted and logged. */
  readonly payloadFailures: PayloadFailures;

  constructor(init: ClientInit) {
    this.site = init.site;
    this.instance = init.instance;
    this.service = init.service;
    this.log = init.log;
    this.maxPayload = (init.limits ?? DEFAULT_LIMITS).maxPayloadBytes;
    this.guard = init.guard ?? null;
    this.payloadFailures = new PayloadFailures(init.log);
    this.directory = new Directory(init.site, init.outlier, init.session.auth, init.balance, init.limits, this.payloadFailures);
    this.caller = new Caller(this.directory, new RetryBudget(init.retry), init.retry);
    this.session = new BrokerSession(init.session.address, init.session.auth, {
      onConnected: (s) => {
        init.session.onConnected?.(s);
        for (const sub of this.subs.values()) s.subscribe(sub.sid, sub.topic, sub.group);
        for (const c of this.consumers.values()) this.register(c);
        s.watch();
      },
      onRegistryEvent: (ev) => this.directory.apply(ev),
      onMessage: (sid, body) => this.subs.get(sid)?.accept(body),
      onDelivery: (cid, body) => this.consumers.get(cid)?.accept(body),
      onRefused: (what, id, err) => {
        const sub = what === 'subscription' ? this.subs.get(id) : undefined;
        sub?.answer(err);
        if (sub?.onRefused) sub.onRefused(err);
        else this.log.error({ what, id, err: err.message }, `the broker refused this ${what}: ${err.message}`);
      },
    }, init.log);
    this.closers.push(reportDrops(this.session, () => this.subs.values()));
  }

  /** Sites in failover order, this one first. */
  get sites(): readonly string[] {
    return this.directory.sites;
  }

  /**
   * Call a method of a service and wait for its reply.
   *
   * @example
   * const reply = await client.call<{ text: string }>('greeter', 'hello', { name: 'ada' }, { timeoutMs: 500 });
   */
  call<Res = unknown>(service: string, method: string, payload?: unknown, options: CallOptions = {}): Promise<Res> {
    if (this.closed) return Promise.reject(new ClosedError('client is closed'));
    if (options.traceId !== undefined && (options.traceId.length > MAX_TRACE_ID || !TRACE_ID.test(options.traceId))) {
      return Promise.reject(new BadRequestError(`a trace id is 1 to ${MAX_TRACE_ID} printable ASCII characters`));
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (timeoutMs <= 0) return Promise.reject(new TimeoutError(`deadline for ${service}.${method} passed before the call was made`));
    const refusal = this.guard?.call(service, method, options.site ?? this.site);
    if (refusal) return Promise.reject(refusal);
    const deadline = Date.now() + timeoutMs;
    return this.caller.call(service, method, payload ?? null, deadline, options.traceId ?? newTraceId(), options.site) as Promise<Res>;
  }

  /**
   * Publish a message to a topic. Every subscription gets it; one member of each. Plainly, at most
   * once and at once. With `durable: true`, it resolves once the message is on disk at the broker
   * for every durable subscription of the topic (which get it at least once).
   * Throws BadRequestError for an invalid topic and PayloadTooLargeError over the payload limit.
   *
   * @example
   * client.publish('playlist.created', { id: 'p1' });
   * await client.publish('playlist.created', { id: 'p1' }, { durable: true, id: 'created-p1' });
   */
  publish(topic: string, message: unknown, options?: PublishOptions & { durable?: false }): void;
  publish(topic: string, message: unknown, options: PublishOptions & { durable: true }): Promise<EnqueueResult>;
  publish(topic: string, message: unknown, options: PublishOptions = {}): void | Promise<EnqueueResult> {
    const field = this.topicField(topic);
    const refusal = this.guard?.publish(topic);
    if (refusal) {
      if (options.durable) return Promise.reject(refusal);
      throw refusal;
    }
    let traceId = options.traceId;
    if (traceId === undefined) traceId = newTraceId();
    else if (traceId.length > MAX_TRACE_ID || !TRACE_ID.test(traceId)) throw new BadRequestError(`a trace id is 1 to ${MAX_TRACE_ID} printable ASCII characters`);
    const payload = encodeTransient(message);
    if (payload.length > this.maxPayload) throw new PayloadTooLargeError(payload.length, this.maxPayload);
    if (options.durable) {
      const body: PublishDurableBody = [topic, options.id ?? null, traceId, Buffer.from(payload)];
      return this.session.request<EnqueueResult & { stored: number }>(FrameKind.PublishDurable, body).then((r) => ({ id: r.id, duplicate: r.duplicate }));
    }
    if (!this.session.publish(field, traceId, payload)) this.publishDropped++;
  }

  /**
   * A durable subscription: the broker keeps the topic's durable publishes for `group` while its
   * members are away, and delivers them at least once, like a queue (ack by returning).
   */
  subscribeDurable<Msg = unknown>(topic: string, group: string, handler: (message: Msg, ctx: DeliveryContext) => void | Promise<void>, options: ConsumeOptions = {}): Consumer & { registered: Promise<void> } {
    checkTopic(topic);
    const queue = durableQueueName(topic, group);
    const registered = this.session.whenConnected().then(() => this.session.request<null>(FrameKind.SubscribeDurable, { topic, group })).then(() => {});
    return Object.assign(this.consume<Msg>(queue, handler, options, topic), { registered });
  }

  /** A topic checked and encoded once, then reused: most processes publish to a few topics. */
  private topicField(topic: string): Buffer {
    let field = this.topicFields.get(topic);
    if (field === undefined) {
      checkTopic(topic);
      if (this.topicFields.size >= 1024) this.topicFields.clear();
      this.topicFields.set(topic, (field = encodeEnvelopeField(topic)));
    }
    return field;
  }

  /**
   * Subscribe to a topic. Returns at once; messages flow once the broker has the subscription.
   * Its `ready` resolves once the broker serves it, and rejects with the broker's refusal: a topic
   * another squad owns without a grant (`PERMISSION_DENIED`, naming the grant that would allow
   * it), a group that is another service's, or the connection's subscription limit.
   *
   * @example
   * const sub = client.subscribe('user.created', async (msg, ctx) => console.log(ctx.topic, msg));
   * await sub.ready;
   */
  subscribe<Msg = unknown>(
    topic: string,
    handler: (message: Msg, ctx: MessageContext) => void | Promise<void>,
    options: SubscribeOptions = {},
  ): Subscription {
    checkTopic(topic);
    const sid = ++this.nextSid;
    const group = options.group ?? `_sub.${this.instance}.${++subscriberCounter}`;
    const deliver: Delivery = (message, t, traceId) => handler(message as Msg, new SubscriptionContext(this, t, traceId));
    const sub = new LocalSubscription(sid, topic, group, deliver, options.concurrency ?? 64, options.maxQueued ?? 1024,
      (err, t) => this.log.error({ err, topic: t }, 'subscription handler failed'),
      (id) => {
        if (!this.subs.delete(id)) return;
        this.session.unsubscribe(id);
        sub.answer(new ClosedError(`unsubscribed from ${topic} before the broker answered`));
      },
      (err, t) => this.payloadFailures.count('message', `topic ${t}`, err),
      options.onRefused);
    this.subs.set(sid, sub);
    this.session.subscribe(sid, topic, group);
    void this.confirm(sub);
    return sub;
  }

  /**
   * Settle a subscription's `ready`. The broker handles a connection's frames in order and
   * refuses a subscription at once, so a refusal arrives before the answer to a flush sent after
   * the subscription: an answer with no refusal before it means the broker serves it.
   */
  private async confirm(sub: LocalSubscription): Promise<void> {
    while (!sub.answered && !this.closed) {
      await this.session.whenConnected();
      try {
        await this.session.flush();
      } catch {
        continue; // the connection was lost: the next one sends the subscription again
      }
      sub.answer(null);
    }
  }

  /**
   * Put a message on a durable queue of this site's broker. Resolves once the broker has it on
   * disk; with `id`, a repeat within the dedup window is stored once (`duplicate: true`).
   *
   * @example
   * await client.enqueue('playlist-exports', { playlistId: 'p1' }, { id: 'export-p1', key: 'p1' });
   */
  async enqueue(queue: string, message: unknown, options: EnqueueOptions & { traceId?: string } = {}): Promise<EnqueueResult> {
    if (typeof queue !== 'string' || queue.length === 0 || queue.length > 255) throw new BadRequestError('a queue name is 1 to 255 characters');
    const payload = encodeTransient(message);
    if (payload.length > this.maxPayload) throw new PayloadTooLargeError(payload.length, this.maxPayload);
    const body: EnqueueBody = [queue, options.id ?? null, options.key ?? null, Math.max(0, options.delayMs ?? 0), options.traceId ?? newTraceId(), Buffer.from(payload)];
    return this.session.request<EnqueueResult>(FrameKind.Enqueue, body);
  }

  /**
   * Consume a durable queue. The handler's success acknowledges a message; a throw refuses it and
   * the broker retries it after a backoff, up to `maxDeliveries`, then dead-letters it.
   */
  consume<Msg = unknown>(queue: string, handler: (message: Msg, ctx: DeliveryContext) => void | Promise<void>, options: ConsumeOptions = {}, topic = queue): Consumer {
    const spec = { ...DEFAULT_CONSUME, ...options };
    const cid = this.session.nextId();
    const consumer = new LocalConsumer(cid, queue, spec,
      (message, meta) => handler(message as Msg, new QueueDeliveryContext(this, meta.queue, topic, meta.messageId, meta.deliveryCount, meta.traceId || newTraceId())),
      (id, seq, error) => (error === null ? this.session.ack(id, seq) : this.session.nack(id, seq, error)),
      (id) => {
        if (this.consumers.delete(id)) this.session.stopConsuming(id);
      },
      (err, q) => this.payloadFailures.count('delivery', `queue ${q}`, err));
    this.consumers.set(cid, consumer);
    if (this.session.connected) this.register(consumer);
    return consumer;
  }

  private register(c: LocalConsumer): void {
    const body: ConsumeBody = { queue: c.queue, ...c.spec };
    this.session.request(FrameKind.Consume, body, c.cid).catch((err: unknown) => {
      // A lost connection is no refusal: the consumer is registered again on reconnect.
      if (err instanceof SquadronError && (err.code === 'CONNECTION_LOST' || err.code === 'UNAVAILABLE')) return;
      this.log.error({ err, queue: c.queue }, 'the broker refused a consumer');
    });
  }

  /**
   * This client's counters: its broker connections, and the payloads it could not decode.
   *
   * @example
   * const { undecodable } = client.stats(); // { request: 0, reply: 0, message: 2, delivery: 0 }
   */
  stats(): ClientStats {
    return { brokerConnects: this.session.connects, undecodable: this.payloadFailures.snapshot(), publishDropped: this.publishDropped };
  }

  /** Live instances this client knows of (all sites), optionally of one service. */
  instances(service?: string): InstanceInfo[] {
    return this.directory.instances(service);
  }

  /** Resolve once `count` instances of `service` are known (polls the view against a deadline). */
  waitForInstances(service: string, count = 1, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.directory.instances(service).length >= count) {
          off();
          clearTimeout(timer);
          resolve();
        }
      };
      const off = this.directory.onChange(check);
      const timer = setTimeout(() => {
        off();
        reject(new TimeoutError(`${count} instance(s) of '${service}' not seen within ${timeoutMs} ms`));
      }, timeoutMs);
      check();
    });
  }

  /**
   * Resolves once the broker has processed everything this client sent before (one round trip):
   * subscriptions made are live, publishes made have been fanned out.
   */
  flush(): Promise<void> {
    return this.session.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Let what was published reach the broker, but never wait on a broker that does not answer.
    await Promise.race([this.session.flush().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    this.session.close();
    for (const sub of this.subs.values()) sub.answer(new ClosedError('client is closed'));
    this.directory.close();
    for (const f of this.closers.splice(0)) f();
  }

  /** After this process's credential was renewed: prove it on every open connection. */
  reauthenticate(): void {
    this.session.reauthenticate();
    this.directory.reauthenticateAll();
  }

  /** Where `storage()` finds this service's resources (set by the service runtime). */
  storageSource: StorageHolder | null = null;
  private readonly storageClients = new Map<string, Promise<unknown>>();

  /**
   * A client for one of this service's storage resources, made once per process: kv, a `pg`
   * Pool (postgres), memcached, or a cassandra-driver Client, each pointed at this site first.
   * NOT_FOUND, naming the command that creates it, when the service has no such resource.
   */
  storage<T = unknown>(name: string): Promise<T> {
    const resource = this.storageSource?.current[name];
    if (!resource) {
      return Promise.reject(new SquadronError('NOT_FOUND', `service ${this.service} has no storage '${name}'; create it: squadron storage create ${name} --kind kv --service ${this.service} --sites ${this.site} (it reaches running instances within seconds)`));
    }
    let made = this.storageClients.get(name);
    if (!made) {
      // Loaded on first use: a service without storage never loads a database driver.
      made = import('@squadron/storage').then(({ openStorageClient }) => openStorageClient(resource.kind, {
        // Read afresh on every reconnect: a failover changes where the primary is.
        credentials: () => this.storageSource?.current[name]?.credentials ?? resource.credentials,
        site: this.site, service: this.service, name,
      }));
      made.catch(() => this.storageClients.delete(name));
      this.storageClients.set(name, made);
    }
    return made as Promise<T>;
  }

  /** Run `f` when the client closes. */
  onClose(f: () => void): void {
    this.closers.push(f);
  }
}

/**
 * Connect a process that is not a service (a script, a tool, a test) to the platform.
 *
 * @example
 * const client = await connect({ site: 'sto' });
 * console.log(await client.call('greeter', 'hello', { name: 'ada' }));
 */
export async function connect(options: ConnectOptions): Promise<Client> {
  const viaPlatform = !options.broker && !process.env.SQUADRON_BROKER;
  const address = options.broker ?? process.env.SQUADRON_BROKER ?? (await resolveBroker(options.site, options.url));
  const name = options.name ?? 'client';
  // Asking the platform where the broker is, with a token: ask it for a credential too, unless
  // this process already has an identity (an agent's, or one given).
  let identity = options.identity === undefined ? Identity.fromEnv() : options.identity;
  let issued: ClientIdentity | null = null;
  if (identity === null && options.identity === undefined && viaPlatform) {
    issued = await requestClientIdentity(options.site, name, options.url);
    identity = issued?.identity ?? null;
  }
  const instance = `${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const log = options.logger ?? pino({ name, level: process.env.SQUADRON_LOG_LEVEL ?? 'warn' });
  // With the platform's policies at hand, a call or publish they would refuse fails here at once.
  const token = process.env.SQUADRON_TOKEN;
  const squad = identity?.claims?.squad;
  let watcher: PolicyWatcher | null = null;
  let policies = options.policies ?? null;
  if (!policies && issued && token) {
    const holder = new PolicyHolder();
    watcher = new PolicyWatcher({ policies: (since) => fetchPolicies(options.url, token, since) }, (p) => holder.set(p), log);
    await watcher.start();
    policies = holder;
  }
  const guard = policies && squad ? new CallerGuard({ service: null, squad }, policies, new Rejections()) : null;
  const client = new Client({
    session: { address, auth: authWith({ role: 'client', site: options.site, name }, identity) },
    site: options.site,
    name,
    instance,
    service: name,
    log,
    balance: options.balance ?? 'least-outstanding',
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    outlier: { ...DEFAULT_OUTLIER_POLICY, ...options.outlier },
    ...(options.limits ? { limits: options.limits } : {}),
    ...(guard ? { guard } : {}),
  });
  if (watcher) client.onClose(() => watcher.stop());
  // Calls move to a renewed credential before the old one expires (callees cut expired ones off).
  identity?.onRenew(() => client.reauthenticate());
  if (issued) client.onClose(() => issued.stop());
  await client.session.start(options.connectTimeoutMs);
  await firstSnapshot(client);
  return client;
}

/** The registry snapshot follows the handshake at once; wait for it so the first call can route. */
export function firstSnapshot(client: Client, timeoutMs = 5000): Promise<void> {
  if (client.sites.length > 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError('no registry snapshot from the broker')), timeoutMs);
    const off = client.directory.onChange(() => {
      off();
      clearTimeout(timer);
      resolve();
    });
  });
}
