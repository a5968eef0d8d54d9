import { StorageError } from '../provisioner.ts';

/**
 * The kv kind's failures with the facts a caller acts on. Each is a StorageError with the
 * stable code, so code that only knows StorageError still sees CONFLICT or QUOTA_EXCEEDED.
 */

/** A compare-and-set that lost: the key is not at the version the write expected. */
export class KvConflictError extends StorageError {
  constructor(readonly key: string, readonly expectedVersion: number, readonly currentVersion: number) {
    super('CONFLICT', conflictMessage(key, expectedVersion, currentVersion));
  }
}

function conflictMessage(key: string, expected: number, current: number): string {
  if (expected === 0) return `key '${key}' already exists (version ${current}) and ifVersion 0 asks that it does not: read it and retry with its version`;
  if (current === 0) return `key '${key}' does not exist, not at version ${expected}: read it again, or write it with ifVersion 0 to create it`;
  return `key '${key}' is at version ${current}, not ${expected}: someone wrote it since you read it; read it again and retry with version ${current}`;
}

export type KvLimit = 'maxKeys' | 'maxBytes';

/** A write that would take a namespace over one of its quotas. */
export class KvQuotaError extends StorageError {
  constructor(readonly namespace: string, readonly limit: KvLimit, readonly max: number, readonly used: number, message: string) {
    super('QUOTA_EXCEEDED', message);
  }
}

/** One refused input field: its JSON pointer (or `querystring:/name`) and what is wrong with it. */
export interface FieldError {
  path: string;
  message: string;
}

/** Input refused whole: every failing field named. */
export class KvInputError extends StorageError {
  constructor(readonly fields: FieldError[]) {
    super('BAD_REQUEST', `invalid input: ${fields.map((f) => `${f.path} ${f.message}`).join('; ')}`);
  }
}

/** Refuse one field. */
export function badField(path: string, message: string): KvInputError {
  return new KvInputError([{ path, message }]);
}
