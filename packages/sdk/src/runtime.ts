import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import pino, { type Logger } from 'pino';
import type { InstanceInfo, WireLimits } from '@squadron/protocol';
import { Client, firstSnapshot } from './client.ts';
import { ServiceServer } from './service-server.ts';
import { normalizeService, type ServiceDefinition } from './define.ts';
import { SubscriptionContext, QueueDeliveryContext } from './context.ts';
import { HOST_ID } from './directory.ts';
import { DEFAULT_OUTLIER_POLICY, DEFAULT_RETRY_POLICY, type BalancePolicy, type RetryPolicy, type OutlierPolicy } from './options.ts';
import { authWith } from './identity-auth.ts';
import { instancesInSite, type RateLimit } from './caller-limits.ts';
import type { PolicySource } from './policy-source.ts';
import { CallerGuard } from './caller-guard.ts';
import { Rejections } from './rejections.ts';
import type { StorageHolder } from './storage-source.ts';
import { Identity, type CredentialVerifier } from '@squadron/identity';

export interface RunOptions {
  site: string;
  /** The site broker's address. */
  broker: string;
  /** Instance id (default: service name and random suffix). */
  instanceId?: string;
  /** TCP listen address for callers (default tcp://127.0.0.1:0). */
  listen?: string;
  /** Directory for the instance's Unix socket (default the OS temp dir); null for TCP only. */
  socketDir?: string | null;
  balance?: BalancePolicy;
  /** How this instance's own calls retry and eject failing callees (defaults as for connect()). */
  retry?: Partial<RetryPolicy>;
  outlier?: Partial<OutlierPolicy>;
  limits?: WireLimits;
  logger?: Logger;
  /** How long in-flight requests may take to finish on stop (default 10 s). */
  drainTimeoutMs?: number;
  /** This instance's credential and key (default: the one its agent put in the environment). */
  identity?: Identity | null;
  /** Check callers' credentials: only those that prove one signed by the control plane get in. */
  verifier?: CredentialVerifier;
  /**
   * The platform's access policies, kept current by whoever runs the instance (its agent, or
   * `squadron run` from the control plane): who may call which method, and each caller's rate
   * limit (the default threshold, or a grant's), split across the service's live instances.
   */
  policies?: PolicySource;
  /**
   * A fixed limit for each caller (a calling service, or a client's squad) instead of the
   * policies' (a service run on its own): beyond it, calls get RATE_LIMITED.
   */
  rateLimit?: RateLimit | ((caller: string) => RateLimit);
  /** The storage this service owns, for ctx.storage(), kept current by whoever runs the instance. */
  storage?: StorageHolder;
}

/** A running instance of a service. */
export interface RunningService {
  readonly info: InstanceInfo;
  readonly client: Client;
  readonly server: ServiceServer;
  /** Leave the registry at once, finish in-flight requests, close. */
  stop(): Promise<void>;
}

/**
 * Run one instance of a service: serve its methods, register with the site broker, subscribe
 * its topics (the instances of one service share each subscription), report load.
 */
export async function runService(definition: ServiceDefinition, options: RunOptions): Promise<RunningService> {
  const service = normalizeService(definition);
  const id = options.instanceId ?? `${service.name}-${randomBytes(4).toString('hex')}`;
  const log = instanceLogger(options.logger ?? pino({ name: id, level: process.env.SQUADRON_LOG_LEVEL ?? 'info' }), { service: service.name, instance: id, site: options.site });
  const socketDir = options.socketDir === undefined ? tmpdir() : options.socketDir;
  // The instance's identity: given, or the one its agent put in the environment (read once).
  const identity = options.identity === undefined ? Identity.fromEnv() : options.identity;
  let info: InstanceInfo | null = null;
  // Whose squad-private methods these are, and who this service is to others' policies: the squad its own credential names.
  const ownSquad = identity?.claims?.squad;
  const rejections = new Rejections();

  const client = new Client({
    session: {
      address: options.broker,
      auth: authWith({ role: 'instance', site: options.site, name: service.name, service: service.name, instance: id }, identity),
      onConnected: (session) => {
        if (info) session.register(info);
      },
    },
    site: options.site,
    name: service.name,
    instance: id,
    service: service.name,
    log,
    balance: options.balance ?? 'least-outstanding',
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    outlier: { ...DEFAULT_OUTLIER_POLICY, ...options.outlier },
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.policies && ownSquad ? { guard: new CallerGuard({ service: service.name, squad: ownSquad }, options.policies, rejections) } : {}),
  });

  if (options.storage) client.storageSource = options.storage;
  // A renewed credential is proven on every open connection before the old one expires.
  identity?.onRenew(() => client.reauthenticate());
  const limit = options.rateLimit;
  const server = new ServiceServer(service, client, {
    site: options.site,
    log,
    ...(options.listen ? { listen: options.listen } : {}),
    ...(socketDir ? { unixPath: join(socketDir, `squadron-${id}.sock`) } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.verifier ? { verifier: options.verifier } : {}),
    // A caller's calls stay in one site: the instances there share its whole limit.
    instances: instancesInSite(client.directory, service.name),
    rejections,
    failures: client.payloadFailures,
    ...(limit !== undefined ? { rateLimit: typeof limit === 'function' ? limit : () => limit } : {}),
    ...(options.policies ? { policies: options.policies } : {}),
    ...(ownSquad ? { squad: ownSquad } : {}),
  });
  await server.start();

  for (const [queue, spec] of service.consumers) {
    client.consume(queue, spec.handler, { concurrency: spec.concurrency, maxDeliveries: spec.maxDeliveries, visibilityTimeoutMs: spec.visibilityTimeoutMs });
  }
  const durable: Array<Promise<void>> = [];
  for (const [topic, spec] of service.subscriptions) {
    if (spec.durable) {
      const sub = client.subscribeDurable(topic, service.name, (msg, ctx) => spec.handler(msg, ctx as QueueDeliveryContext), {
        concurrency: spec.concurrency,
        ...(spec.maxDeliveries !== undefined ? { maxDeliveries: spec.maxDeliveries } : {}),
        ...(spec.visibilityTimeoutMs !== undefined ? { visibilityTimeoutMs: spec.visibilityTimeoutMs } : {}),
      });
      durable.push(sub.registered);
    } else {
      client.subscribe(topic, (msg, ctx) => spec.handler(msg, ctx as SubscriptionContext), { group: service.name, concurrency: spec.concurrency });
    }
  }

  info = {
    id,
    service: service.name,
    site: options.site,
    address: server.address,
    ...(server.unixAddress ? { unixPath: server.unixAddress } : {}),
    host: HOST_ID,
    pid: process.pid,
    methods: [...service.methods].map(([name, m]) => ({ name, idempotent: m.idempotent })),
    topics: [...service.subscriptions.keys()],
    startedAt: Date.now(),
    inFlight: 0,
  };
  try {
    await client.session.start();
    await firstSnapshot(client);
    // Ready only once the broker keeps this service's durable subscriptions.
    await Promise.all(durable);
  } catch (err) {
    await server.drain(0);
    await client.close();
    throw err;
  }

  let lastLoad = -1;
  let lastRejections = 0;
  const loadTimer = setInterval(() => {
    const { changes } = server.rejections;
    if (server.inFlight === lastLoad && changes === lastRejections) return;
    lastLoad = server.inFlight;
    lastRejections = changes;
    client.session.reportLoad(lastLoad, changes > 0 ? server.rejections.snapshot() : undefined);
  }, 1000);
  loadTimer.unref();

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(loadTimer);
      client.session.deregister();
      await server.drain(options.drainTimeoutMs ?? 10_000);
      await client.close();
      log.info({ handled: server.handled }, 'instance stopped');
    })());

  log.info({ address: server.address }, 'instance ready');
  return { info, client, server, stop };
}

/**
 * The instance's logger: every line it writes (its handlers' through ctx.log too) says which
 * service, instance and site wrote it. A key the given logger binds already is not bound twice:
 * a JSON line holds each key once.
 */
function instanceLogger(base: Logger, where: { service: string; instance: string; site: string }): Logger {
  const bound = base.bindings();
  const missing = Object.fromEntries(Object.entries(where).filter(([key]) => !(key in bound)));
  return Object.keys(missing).length === 0 ? base : base.child(missing);
}
