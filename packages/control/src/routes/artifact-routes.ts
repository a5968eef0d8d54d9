import type { FastifyInstance } from 'fastify';
import { MAX_ARTIFACT_BYTES } from '@squadron/artifact';
import { artifactSchema, authErrors } from '../http/schemas.ts';
import { principal, type RouteContext } from './context.ts';

const digestParams = {
  type: 'object', required: ['digest'], additionalProperties: false,
  properties: { digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' } },
} as const;

/** Release artifacts: uploaded by a deploy, fetched by the agents that run them. */
export function artifactRoutes(app: FastifyInstance, ctx: RouteContext): void {
  // The artifact's bytes are the body, as they are: its digest is computed over exactly these.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_ARTIFACT_BYTES }, (_req, body, done) => done(null, body));

  app.post<{ Body: Buffer }>('/v1/artifacts', {
    bodyLimit: MAX_ARTIFACT_BYTES,
    schema: {
      tags: ['deploy'], summary: 'Store a release artifact (its bytes, application/octet-stream); deploy it by the digest answered',
      response: { 201: artifactSchema, ...authErrors },
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
