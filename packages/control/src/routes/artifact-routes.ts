import type { FastifyInstance } from 'fastify';
import { MAX_ARTIFACT_BYTES } from '@squadron/artifact';
import { ErrorCode, SquadronError } from '@squadron/protocol';
import { artifactSchema, authErrors } from '../http/schemas.ts';
import { principal, type RouteContext } from './context.ts';

const digestParams = {
  type: 'object', required: ['digest'], additionalProperties: false,
  properties: { digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' } },
} as const;

/** An upload over the limit: Fastify's own words ("Request body is too large") name neither the limit nor what to do. */
class ArtifactTooLargeError extends SquadronError {
  override readonly name = 'ArtifactTooLargeError';
  constructor(size: number | null) {
    super(ErrorCode.PAYLOAD_TOO_LARGE, `an artifact may be at most ${MAX_ARTIFACT_BYTES} bytes (${MAX_ARTIFACT_BYTES / 1048576} MiB)${size === null ? '' : `; this one is ${size}`}: `
      + 'a release holds code, not data; keep large files in the platform\'s storage');
  }
}

/** Release artifacts: uploaded by a deploy, fetched by the agents that run them. */
export function artifactRoutes(app: FastifyInstance, ctx: RouteContext): void {
  // In a scope of their own: only these routes take a body of bytes, every other route still
  // refuses one (a parser added to the app itself would let any route take octet-stream).
  void app.register(async (scope) => artifactScope(scope, ctx));
}

function artifactScope(app: FastifyInstance, ctx: RouteContext): void {
  // The artifact's bytes are the body, as they are: its digest is computed over exactly these.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_ARTIFACT_BYTES }, (_req, body, done) => done(null, body));

  app.post<{ Body: Buffer }>('/v1/artifacts', {
    bodyLimit: MAX_ARTIFACT_BYTES,
    schema: {
      tags: ['deploy'], summary: 'Store a release artifact (its bytes, application/octet-stream); deploy it by the digest answered',
      response: { 201: artifactSchema, ...authErrors },
    },
    // Sent on, the error reaches the platform's one error reply.
    errorHandler: (err: Error & { code?: string }, req, reply) => {
      const size = Number(req.headers['content-length']);
      reply.send(err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? new ArtifactTooLargeError(Number.isSafeInteger(size) ? size : null) : err);
    },
  }, async (req, reply) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    return reply.status(201).send(await ctx.artifacts.put(principal(req), body));
  });

  app.get<{ Params: { digest: string } }>('/v1/artifacts/:digest', {
    schema: { tags: ['deploy'], summary: 'A release artifact\'s bytes (the agents, the admin, or a squad that uploaded it)', params: digestParams },
  }, async (req, reply) => {
    const bytes = await ctx.artifacts.get(principal(req), req.params.digest);
    return reply.type('application/octet-stream').header('cache-control', 'private, max-age=31536000, immutable').send(Buffer.from(bytes));
  });
}
