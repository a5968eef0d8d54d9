import type { FastifyInstance } from 'fastify';
import type { JWK } from 'jose';
import { NAME, authErrors } from '../http/schemas.ts';
import { mustBeAdmin } from '../auth/principal.ts';
import { InvalidInputError } from '../control-errors.ts';
import { principal, type RouteContext } from './context.ts';

/** An Ed25519 public key as a JWK: the key the credential is bound to. */
const holderKey = {
  type: 'object', required: ['kty', 'crv', 'x'], additionalProperties: false,
  properties: { kty: { const: 'OKP' }, crv: { const: 'Ed25519' }, x: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' } },
} as const;

const credentialSchema = {
  type: 'object', required: ['credential', 'id', 'expiresAt'],
  properties: { credential: { type: 'string' }, id: { type: 'string' }, expiresAt: { type: 'number' } },
} as const;

const jwksSchema = { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object', additionalProperties: true } } } } as const;

/**
 * Identity: the public keys that verify credentials (no token needed), and credentials for
 * clients (any token, for itself), instances (their agent) and brokers (admin), and revocation.
 */
export function identityRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/v1/identity/jwks', {
    config: { public: true },
    schema: { tags: ['identity'], summary: 'The keys that verify credentials (JWKS); needs no token', response: { 200: jwksSchema } },
  }, async () => ctx.authority.jwks());

  app.post<{ Body: { publicKey: JWK; site?: string; name?: string } }>('/v1/credentials', {
    schema: {
      tags: ['identity'], summary: 'A credential for the caller itself, as a client (the CLI, a script), bound to its key',
      body: { type: 'object', required: ['publicKey'], additionalProperties: false, properties: { publicKey: holderKey, site: NAME, name: { type: 'string', minLength: 1, maxLength: 100 } } },
      response: { 201: credentialSchema, ...authErrors },
    },
  }, async (req, reply) => {
    const site = req.body.site ?? ctx.sites.names[0]!;
    // As everywhere in the API, a site the platform does not have is refused (nothing issued).
    if (!ctx.sites.get(site)) throw new InvalidInputError([{ path: '/site', message: `is not a site of this platform (${ctx.sites.names.join(', ')})` }]);
    return reply.status(201).send(await ctx.authority.forClient(principal(req), req.body.publicKey, site, req.body.name ?? 'client'));
  });

  app.post<{ Params: { id: string }; Body: { instance: string; publicKey: JWK } }>('/v1/agents/:id/credentials', {
    schema: {
      tags: ['identity'], summary: 'A credential for an instance placed on this agent (admin)',
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } },
      body: { type: 'object', required: ['instance', 'publicKey'], additionalProperties: false, properties: { instance: { type: 'string', minLength: 1, maxLength: 200 }, publicKey: holderKey } },
      response: { 201: credentialSchema, ...authErrors },
    },
  }, async (req, reply) => {
    mustBeAdmin(principal(req), 'issue instance credentials');
    return reply.status(201).send(await ctx.authority.forInstance(req.params.id, req.body.instance, req.body.publicKey));
  });

  app.post<{ Params: { name: string }; Body: { instance: string; site: string; publicKey: JWK } }>('/v1/services/:name/instance-credentials', {
    schema: {
      tags: ['identity'], summary: 'A credential for an instance of its own service that a squad runs by hand (squadron run)',
      params: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 63 } } },
      body: { type: 'object', required: ['instance', 'site', 'publicKey'], additionalProperties: false, properties: { instance: { type: 'string', minLength: 1, maxLength: 200 }, site: NAME, publicKey: holderKey } },
      response: { 201: credentialSchema, ...authErrors },
    },
  }, async (req, reply) => reply.status(201).send(await ctx.authority.forOwnInstance(principal(req), ctx.sites, req.params.name, req.body.instance, req.body.site, req.body.publicKey)));

  app.post<{ Params: { site: string }; Body: { publicKey: JWK } }>('/v1/sites/:site/credentials', {
    schema: {
      tags: ['identity'], summary: 'A credential for a site\'s broker (admin)',
      params: { type: 'object', required: ['site'], properties: { site: { type: 'string', minLength: 1, maxLength: 64 } } },
      body: { type: 'object', required: ['publicKey'], additionalProperties: false, properties: { publicKey: holderKey } },
      response: { 201: credentialSchema, ...authErrors },
    },
  }, async (req, reply) => reply.status(201).send(await ctx.authority.forBroker(principal(req), ctx.sites, req.params.site, req.body.publicKey)));

  app.post<{ Params: { id: string } }>('/v1/credentials/:id/revoke', {
    schema: {
      tags: ['identity'], summary: 'Revoke a credential: refused by every verifier from now until it expires',
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } },
      response: { 200: { type: 'object', required: ['revoked'], properties: { revoked: { type: 'string' } } }, ...authErrors },
    },
  }, async (req) => {
    await ctx.authority.revoke(principal(req), req.params.id);
    return { revoked: req.params.id };
  });

  app.get('/v1/identity/revoked', {
    schema: { tags: ['identity'], summary: 'Ids of revoked credentials not expired yet', response: { 200: { type: 'object', required: ['ids'], properties: { ids: { type: 'array', items: { type: 'string' } } } }, ...authErrors } },
  }, async () => ({ ids: await ctx.authority.revoked() }));
}
