import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { installErrorReplies, frameworkErrorReply } from './http-errors.ts';
import { kvRoutes } from './kv-routes.ts';
import { MAX_VALUE_BYTES } from './limits.ts';
import type { Replicator } from './replication.ts';
import { siteRoutes } from './site-routes.ts';
import type { KvStore } from './store.ts';
import { statusOf, type KvErrorBody } from './wire-errors.ts';

export interface KvServerOptions {
  store: KvStore;
  replicator: Replicator;
  /** The resource's shared secret: every request but `/health` must carry it (`authorization: Bearer SECRET`). */
  secret: string;
  logger?: Logger;
}

/**
 * One site's kv server: the HTTP API the platform (and handlers' clients) use, and what the
 * resource's other sites pull. Not listening yet: call `listen`, or `inject` in tests.
 *
 * @example
 * const app = buildKvServer({ store, replicator, secret });
 * await app.listen({ host: '127.0.0.1', port: 0 });
 */
export function buildKvServer(options: KvServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger | undefined,
    frameworkErrors: (err, _req, reply) => frameworkErrorReply(err, reply as unknown as FastifyReply),
    // A value's JSON, its key and the other fields, with room to spare.
    bodyLimit: MAX_VALUE_BYTES + 64 * 1024,
    // Pullers keep connections open: on close, end them rather than wait for their keep-alive.
    forceCloseConnections: true,
    // Peers pull every ~150 ms: a log line per request would drown everything else.
    logController: new LogController({ disableRequestLogging: true }),
    // Namespaces run to 128 characters: the router's default limit (100) would refuse some before the schema could say why.
    routerOptions: { maxParamLength: 256 },
    // Input is refused whole: every failing field named, nothing coerced or dropped silently.
    ajv: { customOptions: { allErrors: true, allowUnionTypes: true, removeAdditional: false, coerceTypes: false, useDefaults: false } },
  });
  installErrorReplies(app);

  const expected = digest(options.secret);
  app.addHook('onRequest', async (req, reply) => {
    if ((req.routeOptions.config as { public?: boolean } | undefined)?.public) return;
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    // Compared as digests, in constant time: the secret's length leaks nothing either.
    if (given.length > 0 && timingSafeEqual(digest(given), expected)) return;
    const body: KvErrorBody = {
      error: {
        code: 'UNAUTHENTICATED', retryable: false,
        message: given.length === 0
          ? "no secret: send the resource's secret as 'authorization: Bearer SECRET' (squadron storage credentials NAME)"
          : "wrong secret: use this resource's secret (squadron storage credentials NAME)",
      },
    };
    return reply.status(statusOf('UNAUTHENTICATED')).send(body);
  });

  kvRoutes(app, { store: options.store, onWrite: () => options.replicator.notifyPeers() });
  siteRoutes(app, { store: options.store, replicator: options.replicator });
  return app;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
