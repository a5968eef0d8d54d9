import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NAME, authErrors } from '../http/schemas.ts';
import { NotFoundError } from '../control-errors.ts';
import { asApiError } from '../storage/storage-errors.ts';
import type { CreateAppRequest } from '@squadron/client';
import { principal, type RouteContext } from './context.ts';

const str = { type: 'string' } as const;
const appSchema = {
  type: 'object', required: ['name', 'squad', 'storage', 'createdAt', 'createdBy'],
  properties: { name: str, squad: str, storage: str, createdAt: { type: 'number' }, createdBy: str, token: str },
} as const;
const siteQuery = { site: NAME } as const;
/** The key is the rest of the path: keys may hold slashes. */
const keyOf = (req: FastifyRequest) => (req.params as { '*': string })['*'];

/**
 * API apps and the kv store they use: `/v1/apps` for squads (make an app, get its key once),
 * `/v1/kv/...` for the apps themselves, with their key. An app sees only its own keys, within
 * its quota; `site` picks the store's site (default: its first).
 */
export function kvRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const failing = async <T>(work: () => Promise<T>): Promise<T> => work().catch((err: unknown) => {
    throw asApiError(err);
  });

  app.post<{ Body: CreateAppRequest }>('/v1/apps', {
    schema: {
      tags: ['kv'], summary: 'Make an API app with a key for one of the squad\'s kv stores, within a quota; the key is in this answer only',
      body: {
        type: 'object', required: ['name', 'storage'], additionalProperties: false,
        properties: { name: NAME, storage: NAME, maxKeys: { type: 'integer', minimum: 1, maximum: 1e9 }, maxBytes: { type: 'integer', minimum: 1, maximum: 1e13 } },
      },
      response: { 201: appSchema, ...authErrors },
    },
  }, async (req, reply) => reply.status(201).send(await failing(() => ctx.apps.create(principal(req), req.body))));

  app.get('/v1/apps', {
    schema: { tags: ['kv'], summary: 'List API apps', response: { 200: { type: 'object', required: ['apps'], properties: { apps: { type: 'array', items: appSchema } } }, ...authErrors } },
  }, async () => ({ apps: await ctx.apps.list() }));

  // The app's own routes: its key, not a squad's token (the authentication hook passes them by).

  app.get<{ Querystring: { prefix?: string; limit?: number; cursor?: string; site?: string } }>('/v1/kv', {
    config: { public: true },
    schema: {
      tags: ['kv'], summary: 'List the app\'s keys by prefix (with its app key)',
      querystring: { type: 'object', additionalProperties: false, properties: { prefix: { type: 'string', maxLength: 1024 }, limit: { type: 'string', pattern: '^[0-9]{1,4}$' }, cursor: { type: 'string', maxLength: 2048 }, ...siteQuery } },
    },
  }, async (req) => failing(async () => (await ctx.apps.clientFor(req.headers.authorization, req.query.site))
    .list(req.query.prefix ?? '', { ...(req.query.limit !== undefined ? { limit: Number(req.query.limit) } : {}), ...(req.query.cursor ? { cursor: req.query.cursor } : {}) })));

  app.get<{ Querystring: { site?: string } }>('/v1/kv/*', {
    config: { public: true },
    schema: { tags: ['kv'], summary: 'Read a key: its value, version and expiry (with the app key)', querystring: { type: 'object', additionalProperties: false, properties: siteQuery } },
  }, async (req) => failing(async () => {
    const entry = await (await ctx.apps.clientFor(req.headers.authorization, req.query.site)).get(keyOf(req));
    if (entry === null) throw new NotFoundError('key', keyOf(req), 'put it first');
    return entry;
  }));

  app.put<{ Body: { value: unknown; ttlMs?: number; ifVersion?: number }; Querystring: { site?: string } }>('/v1/kv/*', {
    config: { public: true },
    schema: {
      tags: ['kv'], summary: 'Write a key; ifVersion makes it a compare-and-set (0: only if absent), ttlMs makes it expire (with the app key)',
      querystring: { type: 'object', additionalProperties: false, properties: siteQuery },
      body: {
        type: 'object', required: ['value'], additionalProperties: false,
        properties: { value: {}, ttlMs: { type: 'integer', minimum: 1, maximum: 3.2e10 }, ifVersion: { type: 'integer', minimum: 0 } },
      },
    },
  }, async (req) => failing(async () => (await ctx.apps.clientFor(req.headers.authorization, req.query.site)).put(keyOf(req), req.body.value, {
    ...(req.body.ttlMs !== undefined ? { ttlMs: req.body.ttlMs } : {}), ...(req.body.ifVersion !== undefined ? { ifVersion: req.body.ifVersion } : {}),
  })));

  app.delete<{ Querystring: { site?: string; ifVersion?: string } }>('/v1/kv/*', {
    config: { public: true },
    schema: {
      tags: ['kv'], summary: 'Delete a key; ifVersion makes it conditional (with the app key)',
      querystring: { type: 'object', additionalProperties: false, properties: { ...siteQuery, ifVersion: { type: 'string', pattern: '^[0-9]{1,15}$' } } },
    },
  }, async (req) => failing(async () => (await ctx.apps.clientFor(req.headers.authorization, req.query.site))
    .delete(keyOf(req), req.query.ifVersion !== undefined ? { ifVersion: Number(req.query.ifVersion) } : {})));
}
