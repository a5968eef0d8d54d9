import type { FastifyInstance } from 'fastify';
import type { QueueLimitBody } from '@squadron/client';
import { authErrors, nameParams } from '../http/schemas.ts';
import { principal, type RouteContext } from './context.ts';

/** Messages and payload bytes: whole numbers from 1 (no limit is "none": a quota always holds). */
const limitBody = {
  type: 'object', required: ['maxMessages', 'maxBytes'], additionalProperties: false,
  properties: { maxMessages: { type: 'integer', minimum: 1, maximum: 1e12 }, maxBytes: { type: 'integer', minimum: 1, maximum: 2 ** 50 } },
} as const;
const limitSchema = { type: 'object', required: ['maxMessages', 'maxBytes'], properties: { maxMessages: { type: 'integer' }, maxBytes: { type: 'integer' } } } as const;
const quotasSchema = {
  type: 'object', required: ['queueDefault', 'squadDefault', 'unclaimed', 'queues', 'squads'],
  properties: {
    queueDefault: limitSchema, squadDefault: limitSchema, unclaimed: limitSchema,
    queues: { type: 'array', items: { type: 'object', required: ['queue', 'maxMessages', 'maxBytes'], properties: { queue: { type: 'string' }, ...limitSchema.properties } } },
    squads: { type: 'array', items: { type: 'object', required: ['squad', 'maxMessages', 'maxBytes'], properties: { squad: { type: 'string' }, ...limitSchema.properties } } },
  },
} as const;
const queueParams = { type: 'object', required: ['queue'], properties: { queue: { type: 'string', minLength: 1, maxLength: 255 } } } as const;

/**
 * Queue quotas: every squad reads them (numbers only); a queue's owner squad (or the admin)
 * sets its limit within the squad's total; the admin sets squads' totals. Brokers enforce them.
 */
export function queueQuotaRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/v1/queue-quotas', {
    schema: { tags: ['queues'], summary: 'Queue quotas: the defaults, the limits owners set, the totals the admin set', response: { 200: quotasSchema, ...authErrors } },
  }, async () => ctx.queueQuotas.body());

  app.put<{ Params: { queue: string }; Body: QueueLimitBody }>('/v1/queues/:queue/limit', {
    schema: { tags: ['queues'], summary: 'Set a queue\'s limit, within its squad\'s total (the owner squad, or the admin)', params: queueParams, body: limitBody, response: { 200: quotasSchema, ...authErrors } },
  }, async (req) => ctx.queueQuotas.setQueueLimit(principal(req), req.params.queue, req.body));

  app.delete<{ Params: { queue: string } }>('/v1/queues/:queue/limit', {
    schema: { tags: ['queues'], summary: 'Put a queue back on the default limit (the owner squad, or the admin)', params: queueParams, response: { 200: quotasSchema, ...authErrors } },
  }, async (req) => ctx.queueQuotas.clearQueueLimit(principal(req), req.params.queue));

  app.put<{ Params: { name: string }; Body: QueueLimitBody }>('/v1/squads/:name/queue-total', {
    schema: { tags: ['queues'], summary: 'Set what all of a squad\'s queues may hold at each site (admin)', params: nameParams, body: limitBody, response: { 200: quotasSchema, ...authErrors } },
  }, async (req) => ctx.queueQuotas.setSquadTotal(principal(req), req.params.name, req.body));
}
