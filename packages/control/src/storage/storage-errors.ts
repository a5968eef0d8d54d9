import { SquadronError, ErrorCode } from '@squadron/protocol';
import { StorageError } from '@squadron/storage';

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

/** A provisioner's StorageError as the API's typed error (same message: it says what to do). */
export function asApiError(err: unknown): unknown {
  return err instanceof StorageError ? new SquadronError(CODES[err.code], err.message) : err;
}
