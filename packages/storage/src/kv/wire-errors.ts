import { StorageError, type StorageErrorCode } from '../provisioner.ts';
import { KvConflictError, KvInputError, KvQuotaError, type FieldError, type KvLimit } from './kv-errors.ts';

/**
 * Errors across the wire: the kv server answers every failure with one JSON body carrying the
 * code, whether trying again may help, and the facts of typed errors; the client rebuilds the
 * same typed error from it. This is the one place that maps codes to HTTP statuses.
 */
export interface KvErrorBody {
  error: {
    code: string;
    message: string;
    retryable: boolean;
    fields?: FieldError[];
    /** CONFLICT: the key's version at the site that refused the write (0: it does not exist). */
    currentVersion?: number;
    expectedVersion?: number;
    /** QUOTA_EXCEEDED: the limit, its value and the namespace's use. */
    limit?: KvLimit;
    max?: number;
    used?: number;
    namespace?: string;
  };
}

/** Codes only the HTTP layer gives (no StorageError carries them). */
export type KvWireOnlyCode = 'UNAUTHENTICATED' | 'PAYLOAD_TOO_LARGE' | 'INTERNAL';

export function statusOf(code: StorageErrorCode | KvWireOnlyCode): number {
  switch (code) {
    case 'BAD_REQUEST': return 400;
    case 'UNAUTHENTICATED': return 401;
    // A quota is a refusal, not a fault: 403, never a 5xx that clients would retry elsewhere.
    case 'QUOTA_EXCEEDED': return 403;
    case 'NOT_FOUND': return 404;
    case 'CONFLICT': return 409;
    case 'PAYLOAD_TOO_LARGE': return 413;
    case 'NOT_SUPPORTED': return 501;
    case 'STORAGE_UNAVAILABLE': case 'MISSING_BINARY': return 503;
    default: return 500;
  }
}

export function errorBodyOf(err: StorageError): KvErrorBody {
  const body: KvErrorBody = { error: { code: err.code, message: err.message, retryable: err.code === 'STORAGE_UNAVAILABLE' } };
  if (err instanceof KvInputError) body.error.fields = err.fields;
  if (err instanceof KvConflictError) Object.assign(body.error, { currentVersion: err.currentVersion, expectedVersion: err.expectedVersion });
  if (err instanceof KvQuotaError) Object.assign(body.error, { limit: err.limit, max: err.max, used: err.used, namespace: err.namespace });
  return body;
}

const STORAGE_CODES = new Set<string>(['STORAGE_UNAVAILABLE', 'MISSING_BINARY', 'BAD_REQUEST', 'NOT_SUPPORTED', 'QUOTA_EXCEEDED', 'CONFLICT', 'NOT_FOUND']);

/** The typed error a failed reply stands for; `where` names the server in messages. */
export function errorFromReply(status: number, body: unknown, where: string, key = ''): StorageError {
  const e = (body as Partial<KvErrorBody> | null)?.error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string') {
    return new StorageError(status >= 500 ? 'STORAGE_UNAVAILABLE' : 'BAD_REQUEST', `the kv server at ${where} answered ${status} without an error body`);
  }
  if (e.code === 'CONFLICT' && typeof e.currentVersion === 'number') {
    return new KvConflictError(key, e.expectedVersion ?? -1, e.currentVersion);
  }
  if (e.code === 'QUOTA_EXCEEDED' && e.limit && typeof e.max === 'number' && typeof e.used === 'number') {
    return new KvQuotaError(e.namespace ?? '', e.limit, e.max, e.used, e.message);
  }
  if (e.code === 'BAD_REQUEST' && Array.isArray(e.fields)) return new KvInputError(e.fields);
  if (e.code === 'UNAUTHENTICATED') {
    return new StorageError('BAD_REQUEST', `the kv server at ${where} refused the secret: use the resource's credentials as they are now (${e.message})`);
  }
  if (STORAGE_CODES.has(e.code)) return new StorageError(e.code as StorageErrorCode, e.message);
  return new StorageError(status >= 500 ? 'STORAGE_UNAVAILABLE' : 'BAD_REQUEST', `${e.code}: ${e.message}`);
}
