import { KvInputError, type FieldError } from './kv-errors.ts';

/**
 * What a namespace, a key and a value may be. The HTTP schemas say the same; the store checks
 * again so that code using it directly gets the same answers.
 */

/** A namespace is an app or a service: letters, digits, `.`, `_`, `:` and `-`, up to 128. */
export const NAMESPACE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
/** Keys are any text but NUL, up to 1024 characters; `/` is welcome (`users/42`), for prefixes. */
export const MAX_KEY_LENGTH = 1024;
/** A value's JSON text, at most; the HTTP body limit is a little above it. */
export const MAX_VALUE_BYTES = 1024 * 1024;
/**
 * How deep a value's arrays and objects may nest. Deeper values overflow the stack of the code
 * that encodes them (JSON.stringify fails somewhere past a few thousand levels, at a depth that
 * depends on the stack in use), so a fixed limit makes the answer the same everywhere.
 */
export const MAX_VALUE_DEPTH = 1000;
/** A TTL up to ten years: beyond that, leave it out. */
export const MAX_TTL_MS = 10 * 365 * 24 * 3600 * 1000;
/** The most keys one list page returns, and the default. */
export const MAX_LIST_LIMIT = 1000;
export const DEFAULT_LIST_LIMIT = 100;

const namespaceRe = new RegExp(NAMESPACE_PATTERN);

export function checkNamespace(namespace: string): FieldError[] {
  return namespaceRe.test(namespace) ? [] : [{ path: 'params:/namespace', message: `must match ${NAMESPACE_PATTERN}` }];
}

export function checkKey(key: string, path = 'params:/key'): FieldError[] {
  if (key.length === 0) return [{ path, message: 'must not be empty' }];
  if (key.length > MAX_KEY_LENGTH) return [{ path, message: `must be at most ${MAX_KEY_LENGTH} characters` }];
  if (key.includes('\u0000')) return [{ path, message: 'contains a NUL character (U+0000)' }];
  return [];
}

/** Refuse a value nested deeper than MAX_VALUE_DEPTH; a loop, not recursion, so that checking it cannot overflow. */
export function checkValueDepth(value: unknown, path = '/value'): FieldError[] {
  const todo: Array<[unknown, number]> = [[value, 1]];
  for (let item = todo.pop(); item; item = todo.pop()) {
    const [v, depth] = item;
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_VALUE_DEPTH) return [{ path, message: `nests deeper than ${MAX_VALUE_DEPTH} levels of arrays and objects: store it flatter` }];
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') todo.push([child, depth + 1]);
  }
  return [];
}

/** The value as stored: its JSON text. */
export function encodeValue(value: unknown): { json: string; errors: FieldError[] } {
  if (value === null || value === undefined) return { json: '', errors: [{ path: '/value', message: 'must not be null: delete the key instead' }] };
  const tooDeep = checkValueDepth(value);
  if (tooDeep.length > 0) return { json: '', errors: tooDeep };
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    return { json: '', errors: [{ path: '/value', message: `is not JSON: ${(err as Error).message}` }] };
  }
  if (json === undefined) return { json: '', errors: [{ path: '/value', message: 'is not JSON' }] };
  // A number JSON cannot hold (NaN, Infinity) would be stored as null.
  if (json === 'null') return { json: '', errors: [{ path: '/value', message: 'must not be null: delete the key instead' }] };
  if (Buffer.byteLength(json) > MAX_VALUE_BYTES) return { json, errors: [{ path: '/value', message: `must be at most ${MAX_VALUE_BYTES} bytes of JSON` }] };
  return { json, errors: [] };
}

export function checkWriteOptions(options: { ttlMs?: number | undefined; ifVersion?: number | undefined }): FieldError[] {
  const errors: FieldError[] = [];
  if (options.ttlMs !== undefined && !(Number.isInteger(options.ttlMs) && options.ttlMs >= 1 && options.ttlMs <= MAX_TTL_MS)) {
    errors.push({ path: '/ttlMs', message: `must be an integer from 1 to ${MAX_TTL_MS}` });
  }
  if (options.ifVersion !== undefined && !(Number.isSafeInteger(options.ifVersion) && options.ifVersion >= 0)) {
    errors.push({ path: '/ifVersion', message: 'must be an integer from 0 (0: the key must not exist)' });
  }
  return errors;
}

/** Throw one error naming every failing field, if any. */
export function refuse(errors: FieldError[]): void {
  if (errors.length > 0) throw new KvInputError(errors);
}

/** Bytes a live key counts against its namespace's quota: its key and its value's JSON. */
export function entryBytes(key: string, json: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(json);
}
