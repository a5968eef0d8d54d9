import type { FastifyInstance } from 'fastify';
import type { HealthBody, WhoAmIBody } from '@squadron/client';
import { authErrors, errorSchema } from '../http/schemas.ts';
import { principal, type RouteContext } from './context.ts';
import { mustBeAdmin } from '../auth/principal.ts';
import { NotFoundError } from '../control-errors.ts';

const siteSchema = {
  type: 'object',
  required: ['name', 'kind', 'broker', 'slots', 'provisionDelayMs'],
  properties: {
    name: { type: 'string' },
    kind: { type: 'string', enum: ['datacenter', 'cloud'] },
    broker: { anyOf: [{ type: 'null' }, { type: 'object', required: ['address'], properties: { address: { type: 'string' } } }] },
    slots: { anyOf: [{ type: 'null' }, { type: 'integer' }] },
    provisionDelayMs: { type: 'integer' },
  },
} as const;

/** Health, identity, sites and live status. */
export function platformRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/v1/health', {
    config: { public: true },
    schema: {
      tags: ['platform'], summary: 'Liveness; needs no token',
      response: { 200: { type: 'object', required: ['status', 'version', 'uptimeMs'], properties: { status: { type: 'string' }, version: { type: 'string' }, uptimeMs: { type: 'number' } } } },
    },
  }, async (): Promise<HealthBody> => ({ status: 'ok', version: ctx.version, uptimeMs: Date.now() - ctx.started }));

  app.get('/v1/whoami', {
    schema: { tags: ['platform'], summary: 'Who the token acts as', response: { 200: { type: 'object', required: ['kind', 'name'], properties: { kind: { type: 'string' }, name: { type: 'string' } } }, ...authErrors } },
  }, async (req): Promise<WhoAmIBody> => principal(req));

  app.get('/v1/sites', {
    schema: { tags: ['platform'], summary: 'Sites in failover order, with their brokers', response: { 200: { type: 'object', required: ['sites'], properties: { sites: { type: 'array', items: siteSchema } } }, ...authErrors } },
  }, async () => ({ sites: ctx.sites.list() }));

  app.put<{ Params: { site: string }; Body: { address: string } }>('/v1/sites/:site/broker', {
    schema: {
      tags: ['platform'], summary: 'Where a site\'s broker listens (a broker run on its own registers itself; admin)',
      params: { type: 'object', required: ['site'], properties: { site: { type: 'string', minLength: 1, maxLength: 64 } } },
      body: { type: 'object', required: ['address'], additionalProperties: false, properties: { address: { type: 'string', pattern: '^(tcp|unix)://.+', maxLength: 1000 } } },
      response: { 200: siteSchema, ...authErrors },
    },
  }, async (req) => {
    mustBeAdmin(principal(req), 'register brokers');
    if (!ctx.sites.get(req.params.site)) throw new NotFoundError('site', req.params.site, `the platform's sites are ${ctx.sites.names.join(', ')}`);
    ctx.sites.setBroker(req.params.site, req.body.address);
    return ctx.sites.list().find((s) => s.name === req.params.site)!;
  });

  // The status body mirrors broker stats; its shape is typed by StatusBody in the client package.
  app.get('/v1/status', {
    schema: { tags: ['platform'], summary: 'Every site\'s broker and the live instances it knows', response: { 500: errorSchema } },
  }, async () => ctx.sites.status());
}
