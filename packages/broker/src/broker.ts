import net from 'node:net';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import {
  FrameKind, decode, encode, EnvelopeReader, envelopePayloadOffset, asInstanceInfo, asSubscribe, asEnqueue, asConsume, asPublishDurable, buildEnvelope,
  errorToWire, UnavailableError, BadRequestError, PermissionDeniedError, asLoadReport, asDropReport, asAuth, type SquadronError, type EnqueueReply, type LoadRejections, type ConsumeBody,
  ProtocolError, DEFAULT_LIMITS, type AuthBody, type WireLimits, type RegistryEvent,
} from '@squadron/protocol';
import { Connection, acceptHandshake, listen, parseEndpoint, formatEndpoint } from '@squadron/transport';
import { mustMatch, type CredentialVerifier, type Identity, type VerifiedPeer } from '@squadron/identity';
import { Registry } from './registry.ts';
import { TopicTable, type Forwarder } from './pubsub.ts';
import { PeerLink } from './peer-link.ts';
import type { BrokerStats } from './stats.ts';
import { QueueStore } from './durable/queue-store.ts';
import { QueueDispatcher } from './durable/dispatcher.ts';
import { QueueQuotaGuard } from './durable/queue-quotas.ts';
import { MessagingGuard } from './messaging-guard.ts';
import { checkRegistration, checkTakeover } from './registration.ts';
import { checkGroupMembership } from './group-membership.ts';
import { DEFAULT_CONNECTION_LIMITS, checkConnectionLimit, type ConnectionLimits } from './connection-limits.ts';
import { SubscriberDrops } from './subscriber-drops.ts';
import { callerKey, type Caller, type Decision, type Policies } from '@squadron/policy';

export interface BrokerOptions {
  site: string;
  /** Sites in configured order (failover order). Defaults to this site, then the peers. */
  sites?: string[];
  /** `tcp://host:port` (port 0 picks one) or `unix:///path`. */
  listen?: string;
  /** Other sites' brokers: site → address. More can be added with `setPeers`. */
  peers?: Record<string, string>;
  limits?: WireLimits;
  /** Unread bytes a subscriber may hold before its messages are dropped. */
  maxSubscriberBacklogBytes?: number;
  heartbeatMs?: number;
  logger?: Logger;
  /** Where durable queues are kept. Without it, the broker refuses enqueues and consumers. */
  dataDir?: string;
  /** Test fault hook for the durable log (see DurableLog). */
  simulatePowerLoss?: boolean;
  /**
   * Identity checks. With `verifier`, every connection must prove a credential the control
   * plane signed (AUTH_FAILED and closed otherwise); `self` is this broker's own identity, which
   * it proves to the other sites' brokers. Without, the broker trusts what peers claim (a
   * broker on a developer's machine, tests).
   */
  identity?: { verifier: CredentialVerifier; self?: Identity };
  /** What one connection may hold (subscriptions, consumers, watches); see DEFAULT_CONNECTION_LIMITS. */
  connectionLimits?: Partial<ConnectionLimits>;
}

interface Session {
  conn: Connection;
  auth: AuthBody;
  /** Who the credential says the peer is, when identities are checked. */
  peer: VerifiedPeer | null;
  instances: Set<string>;
  unwatch: Array<() => void>;
  lastSeen: number;
  /** Who the policies judge this connection as; null when nobody is judged (no identities checked, a broker). */
  caller: Caller | null;
  /** Subscriptions and consumers a policy refused, kept to be served once a change allows them. */
  parked: Map<string, Parked>;
}

type Parked =
  | { what: 'subscription'; id: number; topic: string; group: string }
  | { what: 'consumer'; id: number; spec: ConsumeBody };

/** What another site's broker sends over a link (see PeerLink): nothing that needs a policy. */
const PEER_BROKER_FRAMES: ReadonlySet<number> = new Set([FrameKind.Forward, FrameKind.Watch, FrameKind.Ping, FrameKind.Pong, FrameKind.Reauth, FrameKind.Goaway]);

/** How often open connections' credentials are checked again (revocations, expiry). */
const RECHECK_EVERY_MS = 1000;

/** The key of a parked subscription or consumer (their ids come from different sequences). */
const parkedKey = (what: Parked['what'], id: number) => `${what[0]}${id}`;

/**
 * A site's broker: the registry of the site's live instances, pub/sub fan-out, and the links
 * that share both with the other sites' brokers. It is never on the request-reply path.
 */
export class Broker implements Forwarder {
  readonly site: string;
  readonly log: Logger;
  readonly registry: Registry;
  private readonly topics: TopicTable;
  private readonly links = new Map<string, PeerLink>();
  /** Every open connection's session (also: who the members of a group act for). */
  private readonly sessions = new Map<Connection, Session>();
  /** Connections still in their handshake, or refused and closing: stop() ends them too. */
  private readonly handshaking = new Set<Connection>();
  private readonly server: net.Server;
  private readonly limits: WireLimits;
  private readonly heartbeatMs: number;
  private readonly connectionLimits: ConnectionLimits;
  private siteOrder: string[];
  private heartbeat: NodeJS.Timeout | null = null;
  private recheck: NodeJS.Timeout | null = null;
  private _address = '';
  private published = 0;
  private readonly envelopes = new EnvelopeReader();
  private store: QueueStore | null = null;
  private dispatcher: QueueDispatcher | null = null;
  private quotas: QueueQuotaGuard | null = null;
  private readonly guard: MessagingGuard;
  /** Calls refused by each local instance, per caller, as its load reports say. */
  private readonly rejections = new Map<string, LoadRejections>();
  /** Messages subscribers dropped themselves, as their SDKs report them. */
  private readonly subscriberDrops = new SubscriberDrops();
  /** Instance id → the connection that registered it: one holder each. */
  private readonly registrations = new Map<string, Session>();

  constructor(private readonly options: BrokerOptions) {
    this.site = options.site;
    this.log = options.logger ?? pino({ name: `broker:${options.site}` });
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.connectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connectionLimits };
    this.siteOrder = options.sites ?? [options.site, ...Object.keys(options.peers ?? {})];
    this.registry = new Registry(this.site, () => this.siteOrder);
    this.guard = new MessagingGuard(this.log);
    this.topics = new TopicTable(options.maxSubscriberBacklogBytes ?? 4 * 1024 * 1024);
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /** The address clients dial, once started. */
  get address(): string {
    return this._address;
  }

  async start(): Promise<string> {
    const requested = parseEndpoint(this.options.listen ?? 'tcp://127.0.0.1:0');
    if (requested.kind === 'unix') {
      try { unlinkSync(requested.path); } catch { /* no stale socket */ }
    }
    if (this.options.dataDir) {
      this.store = await QueueStore.open({
        dir: join(this.options.dataDir, 'queues'), logger: this.log,
        ...(this.options.simulatePowerLoss ? { simulatePowerLoss: true } : {}),
      });
      this.dispatcher = new QueueDispatcher(this.store, this.log);
      const quotas = (this.quotas = new QueueQuotaGuard(this.store));
      this.store.admission = (queues, bytes) => quotas.admit(queues, bytes);
    }
    this._address = formatEndpoint(await listen(this.server, requested));
    this.setPeers(this.options.peers ?? {});
    this.heartbeat = setInterval(() => this.checkHeartbeats(), this.heartbeatMs);
    if (this.options.identity) this.recheck = setInterval(() => this.recheckCredentials(this.options.identity!.verifier), RECHECK_EVERY_MS);
    this.heartbeat.unref();
    this.log.info({ site: this.site, address: this._address }, 'broker listening');
    return this._address;
  }

  /** Link to other sites' brokers (site → address); links not named are closed. */
  setPeers(peers: Record<string, string>, sites?: string[]): void {
    if (sites) this.siteOrder = sites;
    for (const [site, link] of this.links) {
      if (peers[site] !== link.address) {
        link.stop();
        this.links.delete(site);
        this.registry.dropRemoteSite(site, 'peer removed');
        this.topics.dropRemoteSite(site);
      }
    }
    for (const [site, address] of Object.entries(peers)) {
      if (site === this.site || this.links.has(site)) continue;
      const link = new PeerLink(site, address, this.site, this.registry, this.topics, this.log, this.heartbeatMs, undefined, this.options.identity?.self);
      this.links.set(site, link);
      if (!this.siteOrder.includes(site)) this.siteOrder.push(site);
      link.start();
    }
  }

  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.recheck) clearInterval(this.recheck);
    for (const link of this.links.values()) link.stop();
    for (const s of this.sessions.values()) s.conn.close('CLOSED', 'broker stopping');
    for (const conn of this.handshaking) conn.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.dispatcher?.stop();
    await this.store?.close();
  }

  stats(): BrokerStats {
    const memory = process.memoryUsage();
    return {
      site: this.site,
      address: this._address,
      sites: this.siteOrder,
      connections: this.sessions.size,
      published: this.published,
      instances: this.registry.localInstances().map((i) => {
        const rejections = this.rejections.get(i.id);
        return rejections ? { ...i, rejections } : i;
      }),
      refusals: this.guard.stats(),
      peers: [...this.links.values()].map((l) => ({ site: l.site, address: l.address, up: l.up, forwarded: l.forwarded, dropped: l.dropped })),
      subscriptions: this.topics.stats(),
      subscriberDrops: this.subscriberDrops.stats(),
      memory: { rss: memory.rss, heapTotal: memory.heapTotal, heapUsed: memory.heapUsed, external: memory.external },
      log: this.store?.logStats ?? null,
    };
  }

  /** Send a publish to another site's broker for one of its groups (the TopicTable's Forwarder). */
  forward(site: string, group: string, body: Buffer): boolean {
    const link = this.links.get(site);
    if (link === undefined) return false;
    const envelope = this.envelopes.read(body);
    return link.forward(envelope.topic, envelope.traceId, group, body.subarray(envelope.payloadOffset));
  }

  undeliverable(site: string): void {
    const link = this.links.get(site);
    if (link) link.dropped++;
  }

  private accept(socket: net.Socket): void {
    const conn = new Connection(socket, { limits: this.limits });
    this.handshaking.add(conn);
    conn.onClose(() => this.handshaking.delete(conn));
    const verifier = this.options.identity?.verifier;
    let peer: VerifiedPeer | null = null;
    const verify = verifier && (async (auth: AuthBody, nonce: string) => {
      peer = await verifier.verify(auth.credential, auth.proof, nonce);
      mustMatch(peer, auth);
    });
    acceptHandshake(conn, { site: this.site, server: 'broker', sites: () => this.siteOrder, ...(verify ? { verify } : {}) })
      .then((auth) => {
        this.handshaking.delete(conn);
        this.open(conn, auth, peer);
      })
      .catch((err: Error) => this.log.debug({ remote: conn.remote, err: err.message }, 'handshake refused'));
  }

  private open(conn: Connection, auth: AuthBody, peer: VerifiedPeer | null): void {
    const session: Session = {
      conn, auth, peer, instances: new Set(), unwatch: [], lastSeen: Date.now(), caller: this.guard.callerOf(peer), parked: new Map(),
    };
    this.sessions.set(conn, session);
    conn.onFrame = (kind, id, body) => {
      session.lastSeen = Date.now();
      this.onFrame(session, kind, id, body);
    };
    conn.onClose((err) => this.closeSession(session, err.message));
    if (auth.role === 'broker') this.openPeerSession(session);
  }

  /** A peer site's broker dialed in: give it this site's instances and groups, and keep it current. */
  private openPeerSession(session: Session): void {
    for (const { topic, group } of this.topics.localGroups()) {
      session.conn.sendValue(FrameKind.Interest, 0, { topic, group, present: true });
    }
  }

  private announceInterest(topic: string, group: string, present: boolean): void {
    const body = encode({ topic, group, present });
    for (const s of this.sessions.values()) if (s.auth.role === 'broker') s.conn.send(FrameKind.Interest, 0, body);
  }

  private onFrame(session: Session, kind: number, id: number, body: Buffer): void {
    const { conn } = session;
    // Another site's broker acts for callers its own site judged: it may only do what a link does.
    if (session.auth.role === 'broker' && !PEER_BROKER_FRAMES.has(kind)) throw new ProtocolError(`a peer broker does not send frames of kind ${kind}`);
    switch (kind) {
      case FrameKind.Publish: {
        const payloadOffset = envelopePayloadOffset(body);
        const topic = this.envelopes.topic(body);
        // Refused publishes are dropped and counted: a publish has no reply (the SDK refuses it first).
        if (session.caller !== null && !this.guard.check(session.caller, 'publish', 'topic', topic).ok) return;
        this.published++;
        this.topics.publish(body, topic, this.siteOrder, this);
        // Durable subscriptions get plain publishes too: stored, though the publisher waits for nothing.
        if (this.store?.hasDurable(topic)) {
          this.dispatcher!.publishDurable(topic, Buffer.from(body.subarray(payloadOffset)), { traceId: this.envelopes.traceId(body) })
            .catch((err: unknown) => this.log.error({ err, topic }, 'could not keep a publish for durable subscriptions'));
        }
        return;
      }
      case FrameKind.Forward: {
        if (session.auth.role !== 'broker') throw new ProtocolError('only a broker may forward');
        const envelope = this.envelopes.read(body);
        if (!envelope.group) throw new ProtocolError('forward without a group');
        this.topics.deliverForwarded(body, envelope.topic, envelope.group);
        return;
      }
      case FrameKind.Subscribe: {
        const sub = asSubscribe(decode(body));
        const held = this.topics.countOf(conn) + session.parked.size;
        if (this.refuseForGood(session, 'subscription', id, () => checkConnectionLimit(this.connectionLimits, 'subscriptions', held))) return;
        const decision = this.guard.check(session.caller, 'subscribe', 'topic', sub.topic);
        if (!decision.ok) return this.park(session, { what: 'subscription', id, topic: sub.topic, group: sub.group }, decision);
        if (this.refuseForGood(session, 'subscription', id, () => this.mayJoin(session, sub.topic, sub.group))) return;
        if (this.topics.subscribe(conn, id, sub.topic, sub.group)) this.announceInterest(sub.topic, sub.group, true);
        return;
      }
      case FrameKind.Unsubscribe: {
        session.parked.delete(parkedKey('subscription', id));
        this.subscriberDrops.end(conn, id);
        const gone = this.topics.unsubscribe(conn, id);
        if (gone) this.announceInterest(gone.topic, gone.name, false);
        return;
      }
      case FrameKind.Register: {
        const info = asInstanceInfo(decode(body));
        checkRegistration(session.auth, this.site, info, session.instances);
        const holder = this.registrations.get(info.id);
        if (holder !== undefined && holder !== session) {
          checkTakeover(holder.auth, info);
          // The same instance on a new connection: the old one is gone or going.
          holder.instances.delete(info.id);
        }
        this.registrations.set(info.id, session);
        session.instances.add(info.id);
        this.registry.addLocal(info);
        this.log.info({ service: info.service, instance: info.id, address: info.address }, 'instance up');
        return;
      }
      case FrameKind.Deregister: {
        if (session.auth.role !== 'instance') throw new ProtocolError('only an instance may deregister');
        for (const instanceId of session.instances) this.unregister(instanceId, 'deregistered');
        session.instances.clear();
        return;
      }
      case FrameKind.Load: {
        if (session.auth.role !== 'instance') throw new ProtocolError('only an instance reports its load');
        const { inFlight, rejections } = asLoadReport(decode(body));
        for (const instanceId of session.instances) {
          this.registry.setLoad(instanceId, inFlight);
          if (rejections) this.rejections.set(instanceId, rejections);
        }
        return;
      }
      case FrameKind.Drops: {
        const subscriber = session.auth.role === 'instance' && session.auth.instance ? session.auth.instance : session.auth.name;
        this.subscriberDrops.report(conn, subscriber, asDropReport(decode(body)), (sid) => this.topics.subscriptionOf(conn, sid));
        return;
      }
      case FrameKind.Watch: {
        checkConnectionLimit(this.connectionLimits, 'watches', session.unwatch.length);
        const send = (ev: RegistryEvent) => conn.sendValue(FrameKind.RegistryEvent, id, ev);
        session.unwatch.push(this.registry.watch({ localOnly: session.auth.role === 'broker', send }));
        return;
      }
      case FrameKind.Query: {
        const q = decode(body);
        this.answer(conn, id, () => this.query(session, q));
        return;
      }
      case FrameKind.Enqueue: {
        const [queue, producerId, key, delayMs, traceId, payload] = asEnqueue(decode(body));
        const decision = this.guard.check(session.caller, 'publish', 'queue', queue);
        if (!decision.ok) return this.refuseRequest(conn, id, decision);
        const options = { traceId, delayMs, ...(producerId !== null ? { id: producerId } : {}), ...(key !== null ? { key } : {}) };
        this.answer(conn, id, (): Promise<EnqueueReply> =>
          this.queues().enqueue(queue, viewOf(payload), options).then((r) => ({ id: r.id, duplicate: r.duplicate })));
        return;
      }
      case FrameKind.Consume: {
        // Answered, so that a consumer learns at once when this broker keeps no queues.
        const spec = asConsume(decode(body));
        try {
          checkConnectionLimit(this.connectionLimits, 'consumers', (this.dispatcher?.countOf(conn) ?? 0) + session.parked.size);
        } catch (err) {
          return conn.sendValue(FrameKind.ErrorReply, id, errorToWire(err));
        }
        const decision = this.guard.check(session.caller, 'consume', 'queue', spec.queue);
        if (!decision.ok) {
          session.parked.set(parkedKey('consumer', id), { what: 'consumer', id, spec });
          return this.refuseRequest(conn, id, decision);
        }
        this.answer(conn, id, () => this.queues().addConsumer(conn, id, spec));
        return;
      }
      case FrameKind.SubscribeDurable: {
        const sub = asSubscribe(decode(body));
        const decision = this.guard.checkDurable(session.caller, sub.topic, sub.group);
        if (!decision.ok) return this.refuseRequest(conn, id, decision);
        this.answer(conn, id, () => this.queues().subscribeDurable(sub.topic, sub.group).then(() => null));
        return;
      }
      case FrameKind.PublishDurable: {
        const [topic, producerId, traceId, payload] = asPublishDurable(decode(body));
        const decision = this.guard.check(session.caller, 'publish', 'topic', topic);
        if (!decision.ok) return this.refuseRequest(conn, id, decision);
        this.published++;
        this.answer(conn, id, async () => {
          const result = await this.queues().publishDurable(topic, viewOf(payload), { traceId, ...(producerId !== null ? { id: producerId } : {}) });
          // Plain subscribers get it too, at most once, like any publish; a duplicate, not again.
          if (!result.duplicate) this.topics.publish(buildEnvelope(topic, traceId, '', payload), topic, this.siteOrder, this);
          return result;
        });
        return;
      }
      case FrameKind.StopConsume:
        session.parked.delete(parkedKey('consumer', id));
        this.dispatcher?.removeConsumer(conn, id);
        return;
      case FrameKind.Ack: {
        const [seq] = decode(body) as [unknown];
        if (typeof seq !== 'number') throw new ProtocolError('malformed ack');
        this.dispatcher?.ack(conn, id, seq);
        return;
      }
      case FrameKind.Nack: {
        const [seq, error] = decode(body) as [unknown, unknown];
        if (typeof seq !== 'number') throw new ProtocolError('malformed nack');
        this.dispatcher?.nack(conn, id, seq, String(error ?? 'failed').slice(0, 2000));
        return;
      }
      case FrameKind.Ping:
        conn.send(FrameKind.Pong, id);
        return;
      case FrameKind.Pong:
        return;
      case FrameKind.Reauth:
        void this.reauthenticate(session, asAuth(decode(body)));
        return;
      case FrameKind.Goaway:
        conn.destroy();
        return;
      default:
        throw new ProtocolError(`a broker does not take frames of kind ${kind}`);
    }
  }

  /**
   * The platform's access policies changed: judge every connection's subscriptions and consumers
   * again. What a policy no longer allows stops (the client is told why) and is parked; what
   * was parked and is allowed now is served, without the client asking again.
   */
  setPolicies(policies: Policies): void {
    if (!this.guard.set(policies)) return;
    this.quotas?.set(policies);
    for (const session of this.sessions.values()) {
      if (session.caller === null) continue;
      for (const sub of this.topics.subscriptionsOf(session.conn)) {
        const decision = this.guard.check(session.caller, 'subscribe', 'topic', sub.topic);
        if (decision.ok) continue;
        const gone = this.topics.unsubscribe(session.conn, sub.sid);
        if (gone) this.announceInterest(gone.topic, gone.name, false);
        this.park(session, { what: 'subscription', id: sub.sid, topic: sub.topic, group: sub.group }, decision);
      }
      for (const c of this.dispatcher?.consumersOf(session.conn) ?? []) {
        const decision = this.guard.check(session.caller, 'consume', 'queue', c.spec.queue);
        if (decision.ok) continue;
        this.dispatcher!.removeConsumer(session.conn, c.cid);
        this.park(session, { what: 'consumer', id: c.cid, spec: c.spec }, decision);
      }
      for (const [key, p] of [...session.parked]) {
        const allowed = p.what === 'subscription'
          ? this.guard.check(session.caller, 'subscribe', 'topic', p.topic, false).ok
          : this.guard.check(session.caller, 'consume', 'queue', p.spec.queue, false).ok;
        if (!allowed) continue;
        session.parked.delete(key);
        if (p.what === 'subscription') {
          // A grant of the topic is not a seat in another's group.
          if (this.refuseForGood(session, 'subscription', p.id, () => this.mayJoin(session, p.topic, p.group))) continue;
          if (this.topics.subscribe(session.conn, p.id, p.topic, p.group)) this.announceInterest(p.topic, p.group, true);
        } else if (this.dispatcher) {
          this.dispatcher.addConsumer(session.conn, p.id, p.spec);
        }
        this.log.info({ caller: callerKey(session.caller), what: p.what, id: p.id }, 'a policy change allows a parked subscription or consumer: serving it');
      }
    }
  }

  /** Throws PERMISSION_DENIED when the connection may not join the group (see checkGroupMembership). */
  private mayJoin(session: Session, topic: string, group: string): void {
    if (session.caller === null) return;
    const members = this.topics.membersOf(topic, group);
    const callers = members.map((c) => this.sessions.get(c)?.caller ?? null);
    checkGroupMembership(session.caller, group, this.guard.isService(group), callers, members.every((c) => c === session.conn));
  }

  /**
   * Run `check`; when it throws, tell the client its subscription is refused for good (over a
   * limit, a group not its own: nothing is parked, no policy change will serve it). Whether it was.
   */
  private refuseForGood(session: Session, what: Parked['what'], id: number, check: () => void): boolean {
    try {
      check();
      return false;
    } catch (err) {
      session.conn.sendValue(FrameKind.Refused, id, [what, errorToWire(err)]);
      return true;
    }
  }

  /** Keep a refused subscription or consumer for a later policy change, and tell the client why. */
  private park(session: Session, parked: Parked, decision: Decision): void {
    if (decision.ok) return;
    session.parked.set(parkedKey(parked.what, parked.id), parked);
    session.conn.sendValue(FrameKind.Refused, parked.id, [parked.what, errorToWire(denied(decision))]);
  }

  private refuseRequest(conn: Connection, id: number, decision: Decision): void {
    if (!decision.ok) conn.sendValue(FrameKind.ErrorReply, id, errorToWire(denied(decision)));
  }

  /** The queue dispatcher, or a typed refusal when this broker keeps no durable queues. */
  private queues(): QueueDispatcher {
    if (!this.dispatcher) throw new UnavailableError(`the broker of ${this.site} keeps no durable queues: start it with a data directory`);
    return this.dispatcher;
  }

  /** Reply with what `produce` gives (a value or a promise); failures go back as typed errors. */
  private answer(conn: Connection, id: number, produce: () => unknown): void {
    let result: unknown;
    try {
      result = produce();
    } catch (err) {
      conn.sendValue(FrameKind.ErrorReply, id, errorToWire(err));
      return;
    }
    Promise.resolve(result).then(
      (value) => conn.sendValue(FrameKind.Reply, id, value),
      (err: unknown) => conn.sendValue(FrameKind.ErrorReply, id, errorToWire(err)),
    );
  }

  /** Queries: stats (the default), queue stats, dead letters, replay. */
  private query(session: Session, q: unknown): unknown {
    const what = (q as { what?: unknown } | null)?.what;
    const queue = (q as { queue?: unknown } | null)?.queue;
    switch (what) {
      case 'queues':
        return { site: this.site, queues: (this.store?.stats() ?? []).map((q) => ({ ...q, limit: this.quotas?.limitOf(q.queue) ?? null })) };
      case 'dlq':
        if (typeof queue !== 'string') throw new BadRequestError('name the queue');
        this.mayInspect(session, queue);
        return this.store?.deadLetters(queue) ?? [];
      case 'replay':
        if (typeof queue !== 'string') throw new BadRequestError('name the queue');
        this.mayInspect(session, queue);
        return this.queues() && this.store!.revive(queue).then((revived) => {
          this.dispatcher!.pump(queue);
          return { revived };
        });
      default:
        return this.stats();
    }
  }

  /** Dead letters hold other squads' bodies and errors: their queue's squad and the admin only. */
  private mayInspect(session: Session, queue: string): void {
    const decision = this.guard.checkInspect(session.caller, queue);
    if (!decision.ok) throw denied(decision);
  }

  private closeSession(session: Session, reason: string): void {
    this.dispatcher?.removeConnection(session.conn);
    this.sessions.delete(session.conn);
    for (const unwatch of session.unwatch) unwatch();
    for (const instanceId of session.instances) {
      if (this.unregister(instanceId, reason)) this.log.info({ instance: instanceId, reason }, 'instance down');
    }
    this.subscriberDrops.endConnection(session.conn);
    for (const group of this.topics.removeConnection(session.conn)) this.announceInterest(group.topic, group.name, false);
  }

  /** Forget a registration and everything kept for it; whether it was in the registry. */
  private unregister(instanceId: string, reason: string): boolean {
    this.registrations.delete(instanceId);
    this.rejections.delete(instanceId);
    return this.registry.removeLocal(instanceId, reason);
  }

  /** A renewed credential on an open connection: the same holder, valid for longer; else AUTH_FAILED and closed. */
  private async reauthenticate(session: Session, auth: AuthBody): Promise<void> {
    const verifier = this.options.identity?.verifier;
    if (!verifier || !session.peer) return; // identities are not checked here: nothing to renew
    try {
      session.peer = await verifier.renew(session.peer, auth.credential, auth.proof, session.conn.hello!.nonce);
    } catch (err) {
      const e = err as SquadronError;
      session.conn.close(e.code ?? 'AUTH_FAILED', e.message);
    }
  }

  /** Close every connection whose credential was revoked or has expired since its handshake. */
  private recheckCredentials(verifier: CredentialVerifier): void {
    for (const s of this.sessions.values()) {
      const refusal = s.peer && verifier.recheck(s.peer);
      if (!refusal) continue;
      this.log.info({ peer: s.peer!.name, credential: s.peer!.id, reason: refusal.details?.reason }, 'closing a connection whose credential is no longer valid');
      s.conn.close(refusal.code, refusal.message);
    }
  }

  /** Ping every session; one silent for three beats is closed (a hung or vanished peer). */
  private checkHeartbeats(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) {
      if (now - s.lastSeen > 3 * this.heartbeatMs) {
        s.conn.destroy(new ProtocolError(`no frame for ${now - s.lastSeen} ms`));
      } else {
        s.conn.send(FrameKind.Ping, 0);
      }
    }
  }
}

function denied(decision: Decision & { ok: false }): PermissionDeniedError {
  return new PermissionDeniedError(decision.reason, { details: { policy: decision.policy } });
}

/** A Buffer over the same bytes (no copy): frames are never reused, and the log copies what it keeps. */
function viewOf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
