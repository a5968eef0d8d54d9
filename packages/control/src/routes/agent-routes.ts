import type { FastifyInstance } from 'fastify';
import type { AgentReportRequest, RegisterAgentRequest } from '@squadron/client';
import { NAME, agentSchema, authErrors, instanceReportSchema } from '../http/schemas.ts';
import { mustBeAdmin } from '../auth/principal.ts';
import { principal, type RouteContext } from './context.ts';

const MAX_WAIT_MS = 30_000;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } } as const;

/**
 * The agents' side of the API: register, wait for the list of instances to run (a long poll),
 * report what runs. Agents act with the admin token until sites get identities of their own.
 */
export function agentRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/v1/agents', {
    schema: { tags: ['agents'], summary: 'Agents of every site, with their load', response: { 200: { type: 'object', required: ['agents'], properties: { agents: { type: 'array', items: agentSchema } } }, ...authErrors } },
  }, async () => ({ agents: await ctx.agents.list() }));

  app.post<{ Body: RegisterAgentRequest }>('/v1/agents', {
    schema: {
      tags: ['agents'], summary: 'Register an agent of a site',
      body: { type: 'object', required: ['site', 'host'], additionalProperties: false, properties: { site: NAME, host: { type: 'string', minLength: 1, maxLength: 255 }, slots: { type: 'integer', minimum: 1, maximum: 10_000 } } },
      response: { 201: { type: 'object', required: ['id', 'reportEveryMs'], properties: { id: { type: 'string' }, reportEveryMs: { type: 'integer' } } }, ...authErrors },
    },
  }, async (req, reply) => {
    mustBeAdmin(principal(req), 'register agents');
    const registered = await ctx.agents.register(req.body);
    void ctx.reconciler.sweep();
    return reply.status(201).send(registered);
  });

  app.get<{ Params: { id: string }; Querystring: { after?: string; waitMs?: string } }>('/v1/agents/:id/assignments', {
    schema: {
      tags: ['agents'], summary: 'The instances this agent must run; waits for a change after `after`',
      params: idParams,
      querystring: { type: 'object', additionalProperties: false, properties: { after: { type: 'string', pattern: '^[0-9]{1,15}$' }, waitMs: { type: 'string', pattern: '^[0-9]{1,6}$' } } },
      response: { ...authErrors },
    },
  }, async (req) => {
    mustBeAdmin(principal(req), 'read agent assignments');
    const after = req.query.after === undefined ? -1 : Number(req.query.after);
    const waitMs = Math.min(Number(req.query.waitMs ?? 0), MAX_WAIT_MS);
    return ctx.agents.assignments(req.params.id, after, waitMs);
  });

  app.post<{ Params: { id: string }; Body: AgentReportRequest }>('/v1/agents/:id/report', {
    schema: {
      tags: ['agents'], summary: 'What the agent runs now',
      params: idParams,
      body: { type: 'object', required: ['instances'], additionalProperties: false, properties: { instances: { type: 'array', maxItems: 10_000, items: instanceReportSchema } } },
      response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }, ...authErrors },
    },
  }, async (req) => {
    mustBeAdmin(principal(req), 'report for agents');
    const { changed, gone, interfaces } = await ctx.agents.report(req.params.id, req.body.instances);
    if (gone.length > 0) await ctx.db.tx(async (q) => { for (const id of gone) await q.query('DELETE FROM instances WHERE id = $1 AND draining = 1', [id]); });
    for (const i of interfaces) {
      const outcome = await ctx.catalog.setInterface(i.service, i.release, i.iface);
      // A squad's code that declares another squad's topic or queue: it gets no rights, and says so here and in its service.
      for (const r of outcome?.refused ?? []) req.log.warn({ service: outcome!.service, squad: outcome!.squad, claim: r }, r.message);
    }
    for (const service of changed) ctx.reconciler.request(service);
    return { ok: true };
  });
}
