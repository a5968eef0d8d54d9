import type { FastifyInstance } from 'fastify';
import { StorageError } from '../provisioner.ts';
import { badField } from './kv-errors.ts';
import { MAX_KEY_LENGTH, MAX_TTL_MS, NAMESPACE_PATTERN } from './limits.ts';
import type { KvStore } from './store.ts';

const namespaceParam = { type: 'string', pattern: NAMESPACE_PATTERN } as const;
const keyParams = {
  type: 'object', required: ['namespace', '*'],
  properties: { namespace: namespaceParam, '*': { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH } },
} as const;
const digits = (max: number) => ({ type: 'string', pattern: `^[0-9]{1,${max}}$` }) as const;

type KeyParams = { namespace: string; '*': string };

export interface KvRouteContext {
  store: KvStore;
  /** Called after every write made here, so peers pull it at once. */
  onWrite: () => void;
}

/**
 * The keys of a namespace: `GET|PUT|DELETE /kv/:namespace/:key` (the key may hold `/`; send it
 * percent-encoded or as path segments) and `GET /kv/:namespace?prefix=&limit=&cursor=`.
 */
export function kvRoutes(app: FastifyInstance, ctx: KvRouteContext): void {
  app.get<{ Params: KeyParams }>('/kv/:namespace/*', {
    schema: { summary: 'Read a key: its value, version and expiry; 404 if it does not exist or has expired', params: keyParams },
  }, async (req) => {
    const { namespace, '*': key } = req.params;
    const entry = ctx.store.get(namespace, key);
    if (!entry) throw new StorageError('NOT_FOUND', `no key '${key}' in namespace '${namespace}' (never written, deleted, or expired)`);
    return entry;
  });

  app.put<{ Params: KeyParams; Body: { value: unknown; ttlMs?: number; ifVersion?: number } }>('/kv/:namespace/*', {
    schema: {
      summary: 'Write a key (any JSON value but null); with ifVersion, only if the key is at that version here (0: does not exist)',
      params: keyParams,
      body: {
        type: 'object', required: ['value'], additionalProperties: false,
        properties: {
          value: { type: ['string', 'number', 'boolean', 'object', 'array'] },
          ttlMs: { type: 'integer', minimum: 1, maximum: MAX_TTL_MS },
          ifVersion: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
        },
      },
    },
  }, async (req) => {
    const { namespace, '*': key } = req.params;
    const written = ctx.store.put(namespace, key, req.body.value, { ttlMs: req.body.ttlMs, ifVersion: req.body.ifVersion });
    ctx.onWrite();
    return { key, ...written };
  });

  app.delete<{ Params: KeyParams; Querystring: { ifVersion?: string } }>('/kv/:namespace/*', {
    schema: {
      summary: 'Delete a key (answers deleted: false if it was not there); with ifVersion, only if it is at that version here',
      params: keyParams,
      querystring: { type: 'object', additionalProperties: false, properties: { ifVersion: digits(16) } },
    },
  }, async (req) => {
    const { namespace, '*': key } = req.params;
    const ifVersion = req.query.ifVersion === undefined ? undefined : Number(req.query.ifVersion);
    const result = ctx.store.delete(namespace, key, { ifVersion });
    ctx.onWrite();
    return { key, ...result };
  });

  app.get<{ Params: { namespace: string }; Querystring: { prefix?: string; limit?: string; cursor?: string } }>('/kv/:namespace', {
    schema: {
      summary: 'List live keys by prefix, in key order; pass the answer\'s cursor back for the next page (null: no more)',
      params: { type: 'object', required: ['namespace'], properties: { namespace: namespaceParam } },
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { prefix: { type: 'string', maxLength: MAX_KEY_LENGTH }, limit: digits(4), cursor: { type: 'string', maxLength: 4 * MAX_KEY_LENGTH } },
      },
    },
  }, async (req) => {
    const after = req.query.cursor === undefined || req.query.cursor === '' ? undefined : decodeCursor(req.query.cursor);
    const page = ctx.store.list(req.params.namespace, req.query.prefix ?? '', {
      limit: req.query.limit === undefined ? undefined : Number(req.query.limit),
      after,
    });
    return { items: page.items, cursor: page.next === null ? null : encodeCursor(page.next) };
  });
}

/** A list cursor is the last key returned, opaque to callers (base64url of its UTF-8). */
export function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (key.length === 0 || encodeCursor(key) !== cursor) throw badField('querystring:/cursor', 'is not a cursor this API gave: pass back the cursor of the previous page as it was');
  return key;
}
