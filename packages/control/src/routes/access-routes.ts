import type { FastifyInstance } from 'fastify';
import type { AccessRequest, DenyRequest, GrantRequest, PoliciesBody } from '@squadron/client';
import { authErrors, servicePolicySchema } from '../http/schemas.ts';
import { principal, type RouteContext } from './context.ts';

/** A rule's caller: a service, or a whole squad as `squad:NAME`. */
const CALLER = { type: 'string', pattern: '^(squad:)?[a-z][a-z0-9-]{0,62}$' } as const;
/** Method, topic and queue names, as the SDK takes them. */
const NAMES = { type: 'array', minItems: 1, maxItems: 256, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 200 } } as const;
const ruleParams = {
  type: 'object', required: ['name', 'caller'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 63 }, caller: CALLER },
} as const;
const serviceParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 63 } } } as const;
const policyReply = { 200: servicePolicySchema, ...authErrors };

/** Access policies: open or restricted, grants (with rate limits), deny rules; and the whole set for brokers and agents. */
export function accessRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.put<{ Params: { name: string }; Body: AccessRequest }>('/v1/services/:name/access', {
    schema: {
      tags: ['access'], summary: 'Open a service to every authenticated caller (at the default threshold), or restrict it to granted callers (owner squad)',
      params: serviceParams,
      body: { type: 'object', required: ['access'], additionalProperties: false, properties: { access: { type: 'string', enum: ['open', 'restricted'] } } },
      response: policyReply,
    },
  }, async (req) => ctx.access.setAccess(principal(req), req.params.name, req.body));

  app.put<{ Params: { name: string; caller: string }; Body: GrantRequest }>('/v1/services/:name/grants/:caller', {
    schema: {
      tags: ['access'], summary: 'Grant a caller (a service, or squad:NAME) methods, a higher rate, and topics or queues (owner squad); replaces its earlier grant',
      params: ruleParams,
      body: {
        type: 'object', additionalProperties: false,
        properties: {
          methods: NAMES, publish: NAMES, subscribe: NAMES, consume: NAMES,
          ratePerSecond: { type: 'number', exclusiveMinimum: 0, maximum: 10_000_000 },
          burst: { type: 'integer', minimum: 1, maximum: 100_000_000 },
        },
      },
      response: policyReply,
    },
  }, async (req) => ctx.access.grant(principal(req), req.params.name, req.params.caller, req.body));

  app.put<{ Params: { name: string; caller: string }; Body: DenyRequest }>('/v1/services/:name/denies/:caller', {
    schema: {
      tags: ['access'], summary: 'Deny a caller some methods, or everything (owner squad); a deny wins over any grant',
      params: ruleParams,
      body: { type: 'object', additionalProperties: false, properties: { methods: NAMES } },
      response: policyReply,
    },
  }, async (req) => ctx.access.deny(principal(req), req.params.name, req.params.caller, req.body ?? {}));

  app.delete<{ Params: { name: string; caller: string } }>('/v1/services/:name/rules/:caller', {
    schema: { tags: ['access'], summary: 'Remove every rule (grant and deny) naming a caller (owner squad)', params: ruleParams, response: policyReply },
  }, async (req) => ctx.access.revoke(principal(req), req.params.name, req.params.caller));

  app.get<{ Params: { name: string } }>('/v1/services/:name/policy', {
    schema: { tags: ['access'], summary: 'A service\'s access, grants, deny rules, and the topics and queues it owns', params: serviceParams, response: policyReply },
  }, async (req) => ctx.access.policy(req.params.name));

  app.get<{ Querystring: { since?: string } }>('/v1/policies', {
    schema: {
      tags: ['access'], summary: 'Every service\'s policy, for brokers and agents; with since=VERSION, only whether it changed',
      querystring: { type: 'object', additionalProperties: false, properties: { since: { type: 'string', maxLength: 64 } } },
      response: { 200: { type: 'object', additionalProperties: true, required: ['changed', 'version'], properties: { changed: { type: 'boolean' }, version: { type: 'string' } } }, ...authErrors },
    },
  }, async (req): Promise<PoliciesBody> => {
    const set = await ctx.access.policySet();
    return set.version === req.query.since ? { changed: false, version: set.version } : { changed: true, ...set };
  });
}
