import Fastify, { type FastifyInstance, type FastifyBaseLogger, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Sites } from './sites.ts';
import { Queues } from './queues.ts';
import { SquadronError } from '@squadron/protocol';
import type { ErrorBody, HealthBody } from './api-types.ts';

export interface ControlServerOptions {
  sites: Sites;
  queues?: Queues;
  logger?: Logger;
  version?: string;
}

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const;

const siteSchema = {
  type: 'object',
  required: ['name', 'kind', 'broker'],
  properties: {
    name: { type: 'string' },
    kind: { type: 'string', enum: ['datacenter', 'cloud'] },
    broker: { anyOf: [{ type: 'null' }, { type: 'object', required: ['address'], properties: { address: { type: 'string' } } }] },
  },
} as const;

/** The one place where domain error codes become HTTP statuses. */
function statusOf(code: string): number {
  switch (code) {
    case 'BAD_REQUEST': return 400;
    case 'NOT_FOUND': return 404;
    case 'TIMEOUT': return 504;
    case 'UNAVAILABLE': case 'CONNECTION_LOST': return 503;
    default: return 500;
  }
}

/** Map any failure to one JSON error body; domain code never speaks HTTP. */
function errorReply(statusCode: number, code: string, message: string): { statusCode: number; body: ErrorBody } {
  return { statusCode, body: { error: { code, message } } };
}

/**
 * The control plane's HTTP API. Every route has a schema; errors are `{ error: { code, message } }`.
 */
export function buildControlServer(options: ControlServerOptions): FastifyInstance {
  const started = Date.now();
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger | undefined,
    // Errors raised before routing (an undecodable URL, a bad content type) get the same body.
    frameworkErrors: (err, _req, reply) => {
      const { statusCode, body } = errorReply(400, 'BAD_REQUEST', err.message);
      void (reply as unknown as FastifyReply).status(statusCode).send(body);
    },
    bodyLimit: 1024 * 1024,
  });

  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string; validation?: unknown }, _req, reply) => {
    if (err instanceof SquadronError) {
      const { statusCode, body } = errorReply(statusOf(err.code), err.code, err.message);
      return void reply.status(statusCode).send(body);
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    const code = err.validation ? 'BAD_REQUEST' : status === 500 ? 'INTERNAL' : (err.code ?? 'BAD_REQUEST');
    const { statusCode, body } = errorReply(status, code, status === 500 ? 'internal error; see the control plane log' : err.message);
    if (status === 500) app.log.error({ err }, 'request failed');
    void reply.status(statusCode).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const { statusCode, body } = errorReply(404, 'NOT_FOUND', `no route ${req.method} ${req.url}`);
    void reply.status(statusCode).send(body);
  });

  app.get('/v1/health', {
    schema: {
      response: {
        200: { type: 'object', required: ['status', 'version', 'uptimeMs'], properties: { status: { type: 'string' }, version: { type: 'string' }, uptimeMs: { type: 'number' } } },
      },
    },
  }, async (): Promise<HealthBody> => ({ status: 'ok', version: options.version ?? '0.1.0', uptimeMs: Date.now() - started }));

  app.get('/v1/sites', {
    schema: { response: { 200: { type: 'object', required: ['sites'], properties: { sites: { type: 'array', items: siteSchema } } }, 500: errorSchema } },
  }, async () => ({ sites: options.sites.list() }));

  // The status body mirrors broker stats; its shape is typed by StatusBody in api-types.ts.
  app.get('/v1/status', {
    schema: { response: { 500: errorSchema } },
  }, async () => options.sites.status());

  const queues = options.queues ?? new Queues(options.sites);
  const queueParams = { type: 'object', required: ['queue'], properties: { queue: { type: 'string', minLength: 1, maxLength: 255 } } } as const;
  const siteQuery = { type: 'object', properties: { site: { type: 'string', minLength: 1, maxLength: 64 } }, additionalProperties: false } as const;

  app.get('/v1/queues', { schema: { response: { 500: errorSchema } } }, async () => ({ queues: await queues.list() }));

  app.get<{ Params: { queue: string }; Querystring: { site?: string } }>('/v1/queues/:queue/dead-letters', {
    schema: { params: queueParams, querystring: siteQuery },
  }, async (req) => ({ queue: req.params.queue, messages: await queues.deadLetters(req.params.queue, req.query.site) }));

  app.post<{ Params: { queue: string }; Querystring: { site?: string } }>('/v1/queues/:queue/replay', {
    schema: { params: queueParams, querystring: siteQuery },
  }, async (req) => ({ queue: req.params.queue, ...(await queues.replay(req.params.queue, req.query.site)) }));

  return app;
}
