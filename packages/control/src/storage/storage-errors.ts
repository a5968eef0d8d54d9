import { SquadronError, ErrorCode } from '@squadron/protocol';
import { KvInputError, StorageError } from '@squadron/storage';
import { InvalidInputError } from '../control-errors.ts';

/** This control plane cannot provide the storage asked for (no data directory, no such provisioner, a binary missing). */
export class StorageUnavailableError extends SquadronError {
  override readonly name = 'StorageUnavailableError';
  constructor(message: string) {
    super(ErrorCode.UNAVAILABLE, message);
  }
}

const CODES: Record<StorageError['code'], string> = {
  STORAGE_UNAVAILABLE: ErrorCode.UNAVAILABLE,
  MISSING_BINARY: ErrorCode.UNAVAILABLE,
  BAD_REQUEST: ErrorCode.BAD_REQUEST,
  NOT_SUPPORTED: ErrorCode.BAD_REQUEST,
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  CONFLICT: 'CONFLICT',
  NOT_FOUND: 'NOT_FOUND',
};

/** The kv client names the fields of its own call; the API's caller sent the key in the URL and the value in the body. */
const API_FIELD: Record<string, string> = { key: 'params:/key', value: '/value' };

/**
 * A provisioner's or a kv server's StorageError as the API's typed error: the same code (so the
 * same status as the kv server answered) and the same message, which says what to do; refused
 * input keeps each failing field. Only a server that could not be reached is UNAVAILABLE.
 */
export function asApiError(err: unknown): unknown {
  if (err instanceof KvInputError) return new InvalidInputError(err.fields.map((f) => ({ path: API_FIELD[f.path] ?? f.path, message: f.message })));
  return err instanceof StorageError ? new SquadronError(CODES[err.code], err.message) : err;
}
