import type { FastifyInstance } from 'fastify';
import { authErrors } from '../http/schemas.ts';
import { principal, type RouteContext } from './context.ts';
import { mustOwnQueue } from '../catalog/claims.ts';

const queueParams = { type: 'object', required: ['queue'], properties: { queue: { type: 'string', minLength: 1, maxLength: 255 } } } as const;
const siteQuery = { type: 'object', properties: { site: { type: 'string', minLength: 1, maxLength: 64 } }, additionalProperties: false } as const;
const count = { type: 'integer' } as const;
/** Numbers, null, or an object of numbers (a limit): what any other field of a row may hold. */
const numbers = { anyOf: [{ type: 'number' }, { type: 'null' }, { type: 'object', additionalProperties: { type: ['number', 'null'] } }] } as const;
/**
 * A row of the listing: its site and name, and numbers (counts, limits). Any other field a
 * broker may add is written as numbers or refused, so no body or error text leaks through it.
 */
const queueRowSchema = {
  type: 'object', additionalProperties: numbers, required: ['site', 'queue', 'depth', 'inFlight', 'dead', 'enqueued', 'delivered', 'acked', 'redelivered', 'deadLettered'],
  properties: {
    site: { type: 'string' }, queue: { type: 'string' }, depth: count, inFlight: count, dead: count, enqueued: count, delivered: count, acked: count, redelivered: count, deadLettered: count,
  },
} as const;

/**
 * Durable queues of every site. The listing (names and counts, as the catalog is transparent)
 * answers every token; a queue's dead letters (bodies, error text) and their replay answer only
 * the squad that owns the queue (catalog/claims.ts) and the admin: anyone else gets FORBIDDEN
 * before the broker is asked anything.
 */
export function queueRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/v1/queues', {
    schema: { tags: ['queues'], summary: 'Durable queues per site: names and counts, for every squad', response: { 200: { type: 'object', required: ['queues'], properties: { queues: { type: 'array', items: queueRowSchema } } }, ...authErrors } },
  }, async () => ({ queues: await ctx.queues.list() }));

  app.get<{ Params: { queue: string }; Querystring: { site?: string } }>('/v1/queues/:queue/dead-letters', {
    schema: { tags: ['queues'], summary: 'A queue\'s dead letters, with their last error (the owner squad, or the admin)', params: queueParams, querystring: siteQuery },
  }, async (req) => {
    await mustOwnQueue(ctx.db, principal(req), req.params.queue, 'read its dead letters');
    return { queue: req.params.queue, messages: await ctx.queues.deadLetters(req.params.queue, req.query.site) };
  });

  app.post<{ Params: { queue: string }; Querystring: { site?: string } }>('/v1/queues/:queue/replay', {
    schema: { tags: ['queues'], summary: 'Deliver a queue\'s dead letters again (the owner squad, or the admin)', params: queueParams, querystring: siteQuery },
  }, async (req) => {
    await mustOwnQueue(ctx.db, principal(req), req.params.queue, 'replay its dead letters');
    return { queue: req.params.queue, ...(await ctx.queues.replay(req.params.queue, req.query.site)) };
  });
}
