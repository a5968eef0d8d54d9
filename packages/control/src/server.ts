import Fastify, { type FastifyInstance, type FastifyBaseLogger, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import pino from 'pino';
import type { Sites } from './sites.ts';
import { Queues } from './queues/queue-listing.ts';
import type { Db } from './state/db.ts';
import { authenticate, type Principal } from './auth/principal.ts';
import { Catalog } from './catalog/catalog.ts';
import { AgentRegistry } from './deploy/agent-registry.ts';
import { Reconciler } from './deploy/reconciler.ts';
import { Deployments } from './deploy/deployments.ts';
import { ArtifactStore } from './deploy/artifacts.ts';
import { artifactRoutes } from './routes/artifact-routes.ts';
import { installErrorReplies, frameworkErrorReply } from './http/error-reply.ts';
import { InvalidInputError } from './control-errors.ts';
import { errorSchema } from './http/schemas.ts';
import type { RouteContext } from './routes/context.ts';
import { platformRoutes } from './routes/platform-routes.ts';
import { queueRoutes } from './routes/queue-routes.ts';
import { queueQuotaRoutes } from './routes/queue-quota-routes.ts';
import { QueueQuotaStore } from './queues/queue-quotas.ts';
import { catalogRoutes } from './routes/catalog-routes.ts';
import { deployRoutes } from './routes/deploy-routes.ts';
import { agentRoutes } from './routes/agent-routes.ts';
import { identityRoutes } from './routes/identity-routes.ts';
import { CredentialAuthority } from './identity/credential-authority.ts';
import { AccessPolicies } from './access/access-policies.ts';
import { accessRoutes } from './routes/access-routes.ts';
import { storageRoutes } from './routes/storage-routes.ts';
import { kvRoutes } from './routes/kv-routes.ts';
import { KvApps } from './storage/kv-apps.ts';
import { StorageManager, type ProvisionerSet, type StateChanged } from './storage/storage-manager.ts';
import { DEFAULT_QUEUE_QUOTAS, DEFAULT_RATE_LIMIT, type QueueQuotas, type RateLimit } from '@squadron/policy';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route that needs no squad token: health, the OpenAPI document, the JWKS, and the apps' kv routes (their own key). */
    public?: boolean;
  }
}

export interface ControlServerOptions {
  sites: Sites;
  /** The state store, open and migrated (openStateStore). Closed with the server. */
  db: Db;
  /** The platform admin's bearer token. */
  adminToken: string;
  queues?: Queues;
  logger?: Logger;
  version?: string;
  /** How often agents must report (default 2 s); three missed reports and an agent is dead. */
  agentReportEveryMs?: number;
  /** How long the credentials it issues are valid (default 1 hour). */
  credentialTtlMs?: number;
  /** The threshold for every caller-to-service pair without a grant (default 50/s, burst 100). */
  defaultRate?: RateLimit;
  /** Durable queue quotas' defaults (the config's `queues`); see QueueQuotaStore. */
  queueQuotas?: Pick<QueueQuotas, 'queueDefault' | 'squadDefault' | 'unclaimed'>;
  /** Where storage resources live, and the provisioners that run them; without it, storage is refused. */
  storage?: { dir: string; provisioners: (changed: StateChanged) => ProvisionerSet };
  /** The platform's data directory: no release may hold it or be inside it. */
  dataDir?: string;
}

/**
 * The control plane's HTTP API. Every route has a schema (served as OpenAPI at /openapi.json);
 * every route but /v1/health and /openapi.json needs a bearer token; errors are
 * `{ error: { code, message, fields? } }`.
 *
 * @example
 * const db = await openStateStore('.squadron/state.db');
 * const app = await buildControlServer({ sites, db, adminToken });
 * await app.listen({ port: 7700 });
 */
export async function buildControlServer(options: ControlServerOptions): Promise<FastifyInstance> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger | undefined,
    frameworkErrors: (err, _req, reply) => frameworkErrorReply(err, reply as unknown as FastifyReply),
    bodyLimit: 1024 * 1024,
    // On close, end every connection: agents hold long polls, and keep-alive sockets would
    // otherwise hold a stopping control plane up for Fastify's 72 s keep-alive timeout.
    forceCloseConnections: true,
    // Input is refused whole: every failing field named, nothing coerced or dropped silently.
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: false, useDefaults: false } },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Squadron control plane', version: options.version ?? '0.1.0', description: 'Squads, services, deployments, sites and agents. Errors: docs/errors.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.addSchema(errorSchema);
  installErrorReplies(app);

  const agents = new AgentRegistry(options.db, options.sites, options.agentReportEveryMs !== undefined ? { reportEveryMs: options.agentReportEveryMs } : {});
  const reconciler = new Reconciler(options.db, agents, logger);
  const catalog = new Catalog(options.db);
  const storage = new StorageManager(options.db, catalog, options.sites, options.storage?.provisioners ?? (() => ({})), options.storage?.dir ?? null, logger);
  const queueQuotas = new QueueQuotaStore(options.db, options.queueQuotas ?? DEFAULT_QUEUE_QUOTAS);
  const artifacts = new ArtifactStore(options.db);
  const ctx: RouteContext = {
    db: options.db,
    sites: options.sites,
    queues: options.queues ?? new Queues(options.sites),
    catalog,
    artifacts,
    deployments: new Deployments(options.db, options.sites, catalog, agents, reconciler, artifacts, options.dataDir ? [options.dataDir] : []),
    agents,
    reconciler,
    authority: await CredentialAuthority.open(options.db, options.credentialTtlMs !== undefined ? { ttlMs: options.credentialTtlMs } : {}),
    access: new AccessPolicies(options.db, catalog, options.defaultRate ?? DEFAULT_RATE_LIMIT, queueQuotas),
    queueQuotas,
    storage,
    apps: new KvApps(options.db, storage),
    version: options.version ?? '0.1.0',
    started: Date.now(),
  };

  app.addHook('onRequest', async (req) => {
    if ((req.routeOptions.config as { public?: boolean } | undefined)?.public) return;
    const who: Principal = await authenticate(options.db, options.adminToken, req.headers.authorization);
    (req as typeof req & { principal: Principal }).principal = who;
  });

  // PostgreSQL cannot store U+0000 in text (the statement fails: a 500). No name or text of the
  // API may hold one, on either store; checked after the schemas, so their errors come first.
  app.addHook('preHandler', async (req) => {
    const fields = [...nulStrings(req.params, 'params:'), ...nulStrings(req.query, 'querystring:'), ...nulStrings(req.body, '')];
    if (fields.length > 0) throw new InvalidInputError(fields.map((path) => ({ path, message: 'contains a NUL character (U+0000)' })));
  });

  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  platformRoutes(app, ctx);
  queueRoutes(app, ctx);
  queueQuotaRoutes(app, ctx);
  artifactRoutes(app, ctx);
  catalogRoutes(app, ctx);
  deployRoutes(app, ctx);
  agentRoutes(app, ctx);
  identityRoutes(app, ctx);
  accessRoutes(app, ctx);
  storageRoutes(app, ctx);
  kvRoutes(app, ctx);

  // Releases from before artifacts get one now, before any agent asks what to run.
  await ctx.deployments.buildMissingArtifacts((msg) => logger.warn(msg));
  await ctx.artifacts.prune(options.db);
  reconciler.start();
  // Its own identity, for brokers that check who asks them.
  const firstSite = options.sites.names[0]!;
  options.sites.identity = await ctx.authority.ownIdentity(firstSite);
  const renewing = setInterval(() => {
    if (options.sites.identity) void ctx.authority.renew(options.sites.identity, firstSite).catch((err: unknown) => logger.warn({ err }, 'could not renew the control plane\'s own credential'));
  }, Math.max(1000, Math.floor((ctx.authority.ttlMs * 2) / 3)));
  renewing.unref();
  // Expired credentials no longer matter, revoked or not.
  const pruning = setInterval(() => void ctx.authority.prune().catch((err: unknown) => logger.warn({ err }, 'could not prune expired credentials')), 60_000);
  pruning.unref();
  app.addHook('preClose', async () => {
    clearInterval(pruning);
    clearInterval(renewing);
    reconciler.stop();
    agents.close();
  });
  app.addHook('onClose', async () => {
    await reconciler.settled();
    // What storage runs stops with the control plane that runs it; its data stays for the next start.
    await ctx.storage.stopAll();
    await options.db.close();
  });
  // Storage that was running before a restart runs again (in the background: servers take seconds).
  void ctx.storage.startAll().catch((err: unknown) => logger.error({ err }, 'could not start the storage resources again'));
  return app;
}

/**
 * The JSON pointers of the strings in `value` that hold U+0000, named like schema failures
 * (`params:/name`, `/path`). A loop, not recursion: free-form objects of a body may nest deep.
 */
function nulStrings(value: unknown, where: string): string[] {
  const found: string[] = [];
  const todo: Array<[unknown, string]> = [[value, '']];
  for (let item = todo.pop(); item; item = todo.pop()) {
    const [v, path] = item;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) found.push(`${where}${path || '/'}`);
    } else if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) {
      for (const [k, child] of Object.entries(v)) todo.push([child, `${path}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`]);
    }
  }
  return found;
}
