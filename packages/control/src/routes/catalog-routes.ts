import type { FastifyInstance } from 'fastify';
import type { CreateServiceRequest } from '@squadron/client';
import { NAME, authErrors, auditSchema, nameParams, serviceSchema, squadSchema } from '../http/schemas.ts';
import { listAudit } from '../catalog/audit.ts';
import { principal, type RouteContext } from './context.ts';
import { InvalidInputError } from '../control-errors.ts';

/**
 * The admin's name in credentials and at the brokers (squad 'admin' is let do anything there) and
 * in what it owns (its credentials, the brokers', the control plane's): no squad may take it.
 */
const ADMIN_NAME = 'admin';

/** Squads, services and the audit trail. */
export function catalogRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Body: { name: string } }>('/v1/squads', {
    schema: {
      tags: ['catalog'], summary: 'Create a squad (admin). Its token is in this answer only.',
      body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: NAME } },
      response: { 201: squadSchema, ...authErrors },
    },
  }, async (req, reply) => {
    if (req.body.name === ADMIN_NAME) throw new InvalidInputError([{ path: '/name', message: `'${ADMIN_NAME}' is the platform admin's name, which a squad would share with it; pick another` }]);
    return reply.status(201).send(await ctx.catalog.createSquad(principal(req), req.body.name));
  });

  app.get('/v1/squads', {
    schema: { tags: ['catalog'], summary: 'List squads', response: { 200: { type: 'object', required: ['squads'], properties: { squads: { type: 'array', items: squadSchema } } }, ...authErrors } },
  }, async () => ({ squads: await ctx.catalog.squads() }));

  app.post<{ Body: CreateServiceRequest }>('/v1/services', {
    schema: {
      tags: ['catalog'], summary: 'Create a service owned by a squad',
      body: {
        type: 'object', required: ['name', 'squad'], additionalProperties: false,
        properties: {
          name: NAME, squad: NAME,
          repo: { type: 'string', minLength: 1, maxLength: 2000, pattern: '^[a-zA-Z][a-zA-Z0-9+.-]*://|^git@' },
          description: { type: 'string', maxLength: 2000 },
        },
      },
      response: { 201: serviceSchema, ...authErrors },
    },
  }, async (req, reply) => reply.status(201).send(await ctx.catalog.createService(principal(req), req.body)));

  app.get('/v1/services', {
    schema: { tags: ['catalog'], summary: 'List services', response: { 200: { type: 'object', required: ['services'], properties: { services: { type: 'array', items: serviceSchema } } }, ...authErrors } },
  }, async () => ({ services: await ctx.catalog.services() }));

  app.get<{ Params: { name: string } }>('/v1/services/:name', {
    schema: { tags: ['catalog'], summary: 'Show a service: owner, repository, what its code declares, desired state', params: nameParams, response: { 200: serviceSchema, ...authErrors } },
  }, async (req) => ctx.catalog.service(req.params.name));

  app.get<{ Querystring: { limit?: string; target?: string } }>('/v1/audit', {
    schema: {
      tags: ['catalog'], summary: 'Who changed what, and when; newest first',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
          target: { type: 'string', maxLength: 200, description: 'only changes to this: KIND:NAME (service:playlists, squad:radio, storage:ledger), or a bare service name' },
        },
      },
      response: { 200: { type: 'object', required: ['entries'], properties: { entries: { type: 'array', items: auditSchema } } }, ...authErrors },
    },
  }, async (req) => ({
    entries: await listAudit(ctx.db, { ...(req.query.limit ? { limit: Number(req.query.limit) } : {}), ...(req.query.target ? { target: req.query.target } : {}) }),
  }));
}
