import { SquadronError, ErrorCode } from '@squadron/protocol';

/**
 * The control plane's failures. Domain code throws these; one place (http/error-reply.ts) turns
 * them into HTTP statuses and the JSON error body. Codes are documented in docs/errors.md.
 */
export const ControlErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  NO_CAPACITY: 'NO_CAPACITY',
} as const;

/** No token, or one the platform does not know. */
export class UnauthenticatedError extends SquadronError {
  override readonly name = 'UnauthenticatedError';
  constructor(message: string) {
    super(ControlErrorCode.UNAUTHENTICATED, message);
  }
}

/** A known caller that may not make this change (only a service's owner squad may). */
export class ForbiddenError extends SquadronError {
  override readonly name = 'ForbiddenError';
  constructor(message: string) {
    super(ControlErrorCode.FORBIDDEN, message);
  }
}

export class NotFoundError extends SquadronError {
  override readonly name = 'NotFoundError';
  constructor(readonly kind: string, readonly key: string, hint = '') {
    super(ControlErrorCode.NOT_FOUND, `no ${kind} '${key}'${hint ? `; ${hint}` : ''}`);
  }
}

/** The change clashes with what exists (a name taken, nothing to roll back to). */
export class ConflictError extends SquadronError {
  override readonly name = 'ConflictError';
  constructor(message: string) {
    super(ControlErrorCode.CONFLICT, message);
  }
}

/** A datacenter site has too few free slots for the instances asked for. Nothing was changed. */
export class NoCapacityError extends SquadronError {
  override readonly name = 'NoCapacityError';
  constructor(readonly site: string, readonly wanted: number, readonly free: number, noAgent = false) {
    super(ControlErrorCode.NO_CAPACITY, noAgent
      ? `no agent is running in site '${site}'; start one (squadron agent --site ${site} --control URL) or choose another site`
      : `site '${site}' has ${free} free instance slots, ${wanted} asked for; use fewer instances, another site, or a cloud site`);
  }
}

/** Input refused whole, naming each failing field. */
export class InvalidInputError extends SquadronError {
  override readonly name = 'InvalidInputError';
  constructor(readonly fields: Array<{ path: string; message: string }>) {
    super(ErrorCode.BAD_REQUEST, `invalid input: ${fields.map((f) => `${f.path || '(body)'} ${f.message}`).join('; ')}`);
  }
}
