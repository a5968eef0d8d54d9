import { NotFoundError } from '../control-errors.ts';
import type { FastifyInstance } from 'fastify';
import type { CreateStorageRequest } from '@squadron/client';
import { NAME, authErrors, nameParams } from '../http/schemas.ts';
import { principal, type RouteContext } from './context.ts';

const str = { type: 'string' } as const;
const storageSchema = {
  type: 'object',
  required: ['name', 'kind', 'service', 'squad', 'sites', 'primary', 'sync', 'status', 'error', 'createdAt', 'createdBy'],
  properties: {
    name: str, kind: str, service: str, squad: str, sites: { type: 'array', items: str }, primary: str, sync: { type: 'boolean' },
    status: { type: 'string', enum: ['creating', 'ready', 'failed', 'destroying'] }, error: { anyOf: [{ type: 'null' }, str] },
    createdAt: { type: 'number' }, createdBy: str,
  },
} as const;

/** Storage resources: create, list, show, credentials, failover, destroy. */
export function storageRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Body: CreateStorageRequest }>('/v1/storage', {
    schema: {
      tags: ['storage'], summary: 'Create a storage resource for a service (owner squad); it is ready when its status says so',
      body: {
        type: 'object', required: ['name', 'kind', 'service', 'sites'], additionalProperties: false,
        properties: {
          name: NAME, service: NAME, kind: { type: 'string', enum: ['kv', 'postgres', 'memcached', 'cassandra'] },
          sites: { type: 'array', minItems: 1, maxItems: 16, uniqueItems: true, items: NAME }, primary: NAME, sync: { type: 'boolean' },
        },
      },
      response: { 202: storageSchema, ...authErrors },
    },
  }, async (req, reply) => reply.status(202).send(await ctx.storage.create(principal(req), req.body)));

  app.get('/v1/storage', {
    schema: { tags: ['storage'], summary: 'List storage resources', response: { 200: { type: 'object', required: ['storage'], properties: { storage: { type: 'array', items: storageSchema } } }, ...authErrors } },
  }, async () => ({ storage: await ctx.storage.list() }));

  app.get<{ Params: { name: string } }>('/v1/storage/:name', {
    schema: {
      tags: ['storage'], summary: 'A storage resource, with each site\'s part as its provisioner sees it now', params: nameParams,
      response: { 200: { ...storageSchema, required: [...storageSchema.required, 'description'], properties: { ...storageSchema.properties, description: { anyOf: [{ type: 'null' }, { type: 'object', additionalProperties: true }] } } }, ...authErrors },
    },
  }, async (req) => ctx.storage.show(req.params.name));

  app.get<{ Params: { name: string } }>('/v1/storage/:name/credentials', {
    schema: {
      tags: ['storage'], summary: 'What a client needs to connect, secrets included (owner squad)', params: nameParams,
      response: { 200: { type: 'object', required: ['name', 'kind', 'credentials'], properties: { name: str, kind: str, credentials: { type: 'object', additionalProperties: true } } }, ...authErrors },
    },
  }, async (req) => ctx.storage.credentials(principal(req), req.params.name));

  app.get<{ Params: { name: string } }>('/v1/services/:name/storage', {
    schema: {
      tags: ['storage'], summary: 'The ready storage a service owns, with credentials: what its instances get (owner squad, agents)', params: nameParams,
      response: { 200: { type: 'object', required: ['storage'], properties: { storage: { type: 'array', items: { type: 'object', required: ['name', 'kind', 'credentials'], properties: { name: str, kind: str, credentials: { type: 'object', additionalProperties: true } } } } } }, ...authErrors },
    },
  }, async (req) => ({ storage: await ctx.storage.forService(principal(req), req.params.name) }));

  // An agent asks for every service it runs at once: one request every few seconds whatever
  // their number, where one per service was most of an idle host's CPU at a hundred services.
  app.post<{ Body: { services: string[] } }>('/v1/services/storage', {
    schema: {
      tags: ['storage'], summary: 'The ready storage of each of several services, with credentials (owner squad of each, agents)',
      body: { type: 'object', required: ['services'], additionalProperties: false, properties: { services: { type: 'array', maxItems: 10_000, uniqueItems: true, items: NAME } } },
      response: { 200: { type: 'object', required: ['storage'], properties: { storage: { type: 'object', additionalProperties: { type: 'array', items: { type: 'object', required: ['name', 'kind', 'credentials'], properties: { name: str, kind: str, credentials: { type: 'object', additionalProperties: true } } } } } } }, ...authErrors },
    },
  }, async (req) => {
    const storage: Record<string, unknown> = {};
    for (const service of req.body.services) {
      try {
        storage[service] = await ctx.storage.forService(principal(req), service);
      } catch (err) {
        // A service deleted meanwhile is left out; a refusal is the whole answer's.
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    return { storage };
  });

  app.post<{ Params: { name: string }; Body: { toSite?: string } }>('/v1/storage/:name/failover', {
    schema: {
      tags: ['storage'], summary: 'Move the primary to another site (owner squad)', params: nameParams,
      body: { type: 'object', additionalProperties: false, properties: { toSite: NAME } },
      response: { 200: storageSchema, ...authErrors },
    },
  }, async (req) => ctx.storage.failover(principal(req), req.params.name, req.body?.toSite));

  app.delete<{ Params: { name: string } }>('/v1/storage/:name', {
    schema: { tags: ['storage'], summary: 'Stop a storage resource and delete its data (owner squad)', params: nameParams, response: { 202: storageSchema, ...authErrors } },
  }, async (req, reply) => reply.status(202).send(await ctx.storage.destroy(principal(req), req.params.name)));
}
