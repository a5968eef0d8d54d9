import { StorageError } from '../provisioner.ts';
import { errorFromReply } from './wire-errors.ts';
import { badField } from './kv-errors.ts';

/** The header that carries a resource's shared secret to its kv servers. */
export function authHeader(secret: string): Record<string, string> {
  return { authorization: `Bearer ${secret}` };
}

/**
 * A kv server did not answer. `delivered` is false when the request surely never reached it
 * (the connection was refused), so that even a write may be tried at another site.
 */
export class KvUnreachableError extends StorageError {
  constructor(readonly url: string, readonly delivered: boolean, cause: unknown) {
    super('STORAGE_UNAVAILABLE', `the kv server at ${url} does not answer (${describe(cause)}): check that the resource is up (squadron storage show)`, { cause });
  }
}

const NOT_DELIVERED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EADDRNOTAVAIL']);

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if ((err as Error).name === 'TimeoutError') return 'timed out';
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

export interface KvCall {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Path and query, already encoded. */
  path: string;
  body?: unknown;
  secret: string;
  timeoutMs: number;
  /** Names the key in rebuilt errors. */
  key?: string;
}

/**
 * One request to a kv server; resolves with the JSON body of a 2xx reply (null for 204),
 * rejects with the typed error the server answered, or KvUnreachableError.
 */
export async function callKv<T>(base: string, call: KvCall): Promise<T> {
  const url = `${base}${call.path}`;
  // Encoded before the request: a body that cannot be encoded is the caller's error, never a
  // server that "may or may not have applied" it.
  let body: string | undefined;
  try {
    body = call.body === undefined ? undefined : JSON.stringify(call.body);
  } catch (err) {
    throw badField('/value', `cannot be encoded as JSON: ${(err as Error).message}`);
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method: call.method,
      headers: { ...authHeader(call.secret), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(call.timeoutMs),
    });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    throw new KvUnreachableError(base, !(code !== undefined && NOT_DELIVERED.has(code)), err);
  }
  let answer: unknown = null;
  try {
    const text = await res.text();
    answer = text.length > 0 ? JSON.parse(text) : null;
  } catch (err) {
    if (res.ok) throw new KvUnreachableError(base, true, err);
  }
  if (!res.ok) throw errorFromReply(res.status, answer, base, call.key);
  return answer as T;
}
