/** JSON schemas of the API's bodies: they validate input and make the OpenAPI document. */

const str = { type: 'string' } as const;
const num = { type: 'number' } as const;
const int = { type: 'integer' } as const;
const nullable = <T extends object>(s: T) => ({ anyOf: [{ type: 'null' }, s] }) as const;
const counts = { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } } as const;

/** Names of squads, services and sites: lower-case letters, digits and dashes. */
export const NAME = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } as const;

/** `:name` in a route's path. */
export const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 63 } } } as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: str, message: str,
        fields: { type: 'array', items: { type: 'object', required: ['path', 'message'], properties: { path: str, message: str } } },
      },
    },
  },
} as const;

export const interfaceSchema = {
  type: 'object',
  required: ['methods', 'topics', 'queues'],
  properties: { methods: { type: 'array', items: str }, topics: { type: 'array', items: str }, queues: { type: 'array', items: str }, publishes: { type: 'array', items: str } },
} as const;

export const squadSchema = {
  type: 'object',
  required: ['name', 'createdAt', 'createdBy'],
  properties: { name: str, createdAt: num, createdBy: str, token: str },
} as const;

const claimSchema = { type: 'object', required: ['kind', 'name'], properties: { kind: { type: 'string', enum: ['topic', 'queue'] }, name: str } } as const;
const claimsSchema = {
  type: 'object', required: ['owned', 'shared', 'refused'],
  properties: {
    owned: { type: 'array', items: claimSchema },
    shared: { type: 'array', items: { type: 'object', required: ['kind', 'name', 'owner'], properties: { ...claimSchema.properties, owner: str } } },
    refused: {
      type: 'array',
      items: { type: 'object', required: ['kind', 'name', 'owner', 'ownerSquad', 'message'], properties: { ...claimSchema.properties, owner: str, ownerSquad: nullable(str), message: str } },
    },
  },
} as const;

export const serviceSchema = {
  type: 'object',
  required: ['name', 'squad', 'repo', 'description', 'createdAt', 'interface', 'release', 'desired', 'claims'],
  properties: {
    name: str, squad: str, repo: nullable(str), description: nullable(str), createdAt: num,
    interface: nullable(interfaceSchema), release: nullable(int), desired: counts, claims: claimsSchema,
  },
} as const;

export const releaseSchema = {
  type: 'object',
  required: ['service', 'number', 'artifact', 'path', 'desired', 'createdAt', 'createdBy', 'rollbackOf', 'maxMemoryMb'],
  properties: { service: str, number: int, artifact: nullable(str), path: nullable(str), desired: counts, createdAt: num, createdBy: str, rollbackOf: nullable(int), maxMemoryMb: int },
} as const;

export const artifactSchema = {
  type: 'object',
  required: ['digest', 'size', 'entry', 'files'],
  properties: {
    digest: str, size: int, entry: str,
    files: { type: 'array', items: { type: 'object', required: ['name', 'bytes'], properties: { name: str, bytes: int } } },
  },
} as const;

const exitSchema = nullable({
  type: 'object', required: ['code', 'signal', 'at'],
  properties: { code: nullable(int), signal: nullable(str), at: num, reason: { type: 'string', enum: ['memory-limit', 'heap-limit'] } },
});

export const instanceRecordSchema = {
  type: 'object',
  required: [
    'id', 'service', 'release', 'site', 'agent', 'state', 'pid', 'rssBytes', 'cpuPercent', 'restarts', 'crashLoop', 'lastExit', 'createdAt', 'readyAt',
    'demoted', 'restartAt', 'maxMemoryMb',
  ],
  properties: {
    id: str, service: str, release: int, site: str, agent: nullable(str),
    state: { type: 'string', enum: ['pending', 'starting', 'ready', 'crashed', 'draining'] },
    pid: nullable(int), rssBytes: nullable(num), cpuPercent: nullable(num), restarts: int, crashLoop: { type: 'boolean' },
    lastExit: exitSchema, createdAt: num, readyAt: nullable(num),
    demoted: { type: 'boolean' }, restartAt: nullable(num), maxMemoryMb: int,
  },
} as const;

export const auditSchema = {
  type: 'object',
  required: ['id', 'at', 'actor', 'action', 'target', 'detail'],
  properties: { id: int, at: num, actor: str, action: str, target: str, detail: { type: 'object', additionalProperties: true } },
} as const;

export const agentSchema = {
  type: 'object',
  required: ['id', 'site', 'host', 'slots', 'lastSeenAt', 'up', 'instances'],
  properties: { id: str, site: str, host: str, slots: nullable(int), lastSeenAt: num, up: { type: 'boolean' }, instances: int },
} as const;

export const instanceReportSchema = {
  type: 'object',
  required: ['id', 'state', 'pid', 'rssBytes', 'cpuPercent', 'restarts', 'crashLoop', 'lastExit', 'readyAt'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 200 },
    state: { type: 'string', enum: ['pending', 'starting', 'ready', 'crashed', 'draining'] },
    pid: nullable(int), rssBytes: nullable(num), cpuPercent: nullable(num), restarts: { type: 'integer', minimum: 0 },
    crashLoop: { type: 'boolean' }, lastExit: exitSchema, readyAt: nullable(num),
    // Not required: agents from before them leave them out.
    demoted: { type: 'boolean' }, restartAt: nullable(num),
    interface: interfaceSchema,
  },
} as const;

/** Responses that every authenticated route may give. */
export const authErrors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 500: errorSchema } as const;

const rateSchema = { type: 'object', required: ['ratePerSecond', 'burst'], properties: { ratePerSecond: num, burst: int } } as const;
const names = { type: 'array', items: str } as const;

export const servicePolicySchema = {
  type: 'object',
  required: ['service', 'squad', 'access', 'grants', 'denies', 'topics', 'queues', 'defaultRate'],
  properties: {
    service: str, squad: str, access: { type: 'string', enum: ['open', 'restricted'] }, topics: names, queues: names, defaultRate: rateSchema,
    grants: {
      type: 'array',
      items: {
        type: 'object', required: ['caller', 'methods', 'rate', 'publish', 'subscribe', 'consume'],
        properties: { caller: str, methods: nullable(names), rate: nullable(rateSchema), publish: names, subscribe: names, consume: names },
      },
    },
    denies: { type: 'array', items: { type: 'object', required: ['caller', 'methods'], properties: { caller: str, methods: nullable(names) } } },
  },
} as const;
