import type { FastifyInstance } from 'fastify';
import { MEMORY_CEILING_MB, type DeployRequest, type RollbackRequest, type ScaleRequest } from '@squadron/client';
import { NAME, authErrors, instanceRecordSchema, nameParams, releaseSchema, serviceSchema } from '../http/schemas.ts';
import { principal, type RouteContext } from './context.ts';

const MAX_INSTANCES = 1000;
/** Release numbers are INTEGER columns: PostgreSQL refuses a larger one (a 500 instead of a 400). */
const MAX_RELEASE = 2 ** 31 - 1;

/** Releases, desired state and the instances placed for it. */
export function deployRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Params: { name: string }; Body: DeployRequest }>('/v1/services/:name/releases', {
    schema: {
      tags: ['deploy'], summary: 'Deploy: a new release of an uploaded artifact (or of a folder on this machine, built here), N instances in each named site (rolling)',
      params: nameParams,
      body: {
        type: 'object', required: ['sites', 'instances'], additionalProperties: false,
        properties: {
          artifact: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
          path: { type: 'string', minLength: 1, maxLength: 4096 },
          sites: { type: 'array', minItems: 1, maxItems: 64, uniqueItems: true, items: NAME },
          instances: { type: 'integer', minimum: 1, maximum: MAX_INSTANCES },
          maxMemoryMb: { type: 'integer', minimum: MEMORY_CEILING_MB.min, maximum: MEMORY_CEILING_MB.max },
        },
      },
      response: { 201: releaseSchema, ...authErrors },
    },
  }, async (req, reply) => reply.status(201).send(await ctx.deployments.deploy(principal(req), req.params.name, req.body)));

  app.get<{ Params: { name: string } }>('/v1/services/:name/releases', {
    schema: { tags: ['deploy'], summary: 'Releases, newest first', params: nameParams, response: { 200: { type: 'object', required: ['releases'], properties: { releases: { type: 'array', items: releaseSchema } } }, ...authErrors } },
  }, async (req) => ({ releases: await ctx.deployments.releases(req.params.name) }));

  app.post<{ Params: { name: string }; Body: ScaleRequest }>('/v1/services/:name/scale', {
    schema: {
      tags: ['deploy'], summary: 'Set the instances per site (one site, or every site it runs in)',
      params: nameParams,
      body: { type: 'object', required: ['instances'], additionalProperties: false, properties: { instances: { type: 'integer', minimum: 0, maximum: MAX_INSTANCES }, site: NAME } },
      response: { 200: serviceSchema, ...authErrors },
    },
  }, async (req) => ctx.deployments.scale(principal(req), req.params.name, req.body));

  app.post<{ Params: { name: string }; Body: RollbackRequest }>('/v1/services/:name/rollback', {
    schema: {
      tags: ['deploy'], summary: 'A new release with the code of an earlier one (default: the previous)',
      params: nameParams,
      body: { type: 'object', additionalProperties: false, properties: { to: { type: 'integer', minimum: 1, maximum: MAX_RELEASE } } },
      response: { 201: releaseSchema, ...authErrors },
    },
  }, async (req, reply) => reply.status(201).send(await ctx.deployments.rollback(principal(req), req.params.name, req.body ?? {})));

  app.delete<{ Params: { name: string } }>('/v1/services/:name/deployment', {
    schema: { tags: ['deploy'], summary: 'Undeploy: drain and stop every instance', params: nameParams, response: { 200: serviceSchema, ...authErrors } },
  }, async (req) => ctx.deployments.undeploy(principal(req), req.params.name));

  app.get<{ Params: { name: string } }>('/v1/services/:name/instances', {
    schema: { tags: ['deploy'], summary: 'Instances placed, with status, pid, memory and CPU from their agents', params: nameParams, response: { 200: { type: 'object', required: ['instances'], properties: { instances: { type: 'array', items: instanceRecordSchema } } }, ...authErrors } },
  }, async (req) => ({ instances: await ctx.deployments.instances(req.params.name) }));
}
