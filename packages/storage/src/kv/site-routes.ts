import type { FastifyInstance } from 'fastify';
import { MAX_KEY_LENGTH, NAMESPACE_PATTERN } from './limits.ts';
import type { Replicator } from './replication.ts';
import type { KvStore } from './store.ts';

const SITE = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } as const;
const digits = (max: number) => ({ type: 'string', pattern: `^[0-9]{1,${max}}$` }) as const;
const limit = (raw: string | undefined, fallback: number) => Math.min(Math.max(raw === undefined ? fallback : Number(raw), 1), 5000);
const quotaLimit = { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }] } as const;
const namespaceParams = { type: 'object', required: ['namespace'], properties: { namespace: { type: 'string', pattern: NAMESPACE_PATTERN } } } as const;

export interface SiteRouteContext {
  store: KvStore;
  replicator: Replicator;
}

/** The site itself: health, stats with lag per peer, quotas, and what peers pull. */
export function siteRoutes(app: FastifyInstance, ctx: SiteRouteContext): void {
  app.get('/health', { config: { public: true }, schema: { summary: 'Up: answers without the secret' } }, async () => ({ site: ctx.store.site, status: 'ok' }));

  app.get('/stats', { schema: { summary: 'Keys, bytes and namespaces here; the change log; each peer\'s reachability and lag' } }, async () => ({
    site: ctx.store.site,
    storeId: ctx.store.storeId,
    pid: process.pid,
    ...ctx.store.stats(),
    peers: ctx.replicator.status(),
  }));

  app.get<{ Params: { namespace: string } }>('/quotas/:namespace', {
    schema: { summary: 'A namespace\'s quota and use at this site', params: namespaceParams },
  }, async (req) => ({ namespace: req.params.namespace, quota: ctx.store.quotaOf(req.params.namespace), usage: ctx.store.usageOf(req.params.namespace) }));

  app.put<{ Params: { namespace: string }; Body: { maxKeys?: number | null; maxBytes?: number | null } }>('/quotas/:namespace', {
    schema: {
      summary: 'Set a namespace\'s quota at this site (each site keeps its own: set it on every site); null goes back to the default',
      params: namespaceParams,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { maxKeys: quotaLimit, maxBytes: quotaLimit } },
    },
  }, async (req) => ({
    namespace: req.params.namespace,
    quota: ctx.store.setQuota(req.params.namespace, req.body),
    usage: ctx.store.usageOf(req.params.namespace),
  }));

  app.get<{ Querystring: { since: string; limit?: string; from?: string } }>('/replication/changes', {
    schema: {
      summary: 'This site\'s own writes after sequence `since`, in order; `from` (the pulling site) acknowledges everything up to `since`',
      querystring: { type: 'object', required: ['since'], additionalProperties: false, properties: { since: digits(16), limit: digits(4), from: SITE } },
    },
  }, async (req) => {
    const since = Number(req.query.since);
    if (req.query.from !== undefined) ctx.replicator.recordAck(req.query.from, since);
    return { site: ctx.store.site, ...ctx.store.changesSince(since, limit(req.query.limit, 500)) };
  });

  app.get<{ Querystring: { afterNamespace?: string; afterKey?: string; limit?: string } }>('/replication/snapshot', {
    schema: {
      summary: 'Every entry here, tombstones included, in (namespace, key) order after the given one: for a peer the log no longer covers',
      querystring: {
        type: 'object', additionalProperties: false, dependencies: { afterNamespace: ['afterKey'], afterKey: ['afterNamespace'] },
        properties: { afterNamespace: { type: 'string', maxLength: 128 }, afterKey: { type: 'string', maxLength: MAX_KEY_LENGTH }, limit: digits(4) },
      },
    },
  }, async (req) => {
    const { afterNamespace, afterKey } = req.query;
    const after = afterNamespace !== undefined && afterKey !== undefined ? { namespace: afterNamespace, key: afterKey } : null;
    return { site: ctx.store.site, storeId: ctx.store.storeId, ...ctx.store.snapshot(after, limit(req.query.limit, 1000)) };
  });

  app.post<{ Body: { site: string } }>('/replication/wake', {
    schema: {
      summary: 'A peer has new writes: pull from it now',
      body: { type: 'object', required: ['site'], additionalProperties: false, properties: { site: SITE } },
    },
  }, async (req, reply) => {
    ctx.replicator.wake(req.body.site);
    return reply.status(204).send();
  });
}
