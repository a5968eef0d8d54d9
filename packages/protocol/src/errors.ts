/**
 * Every failure that crosses the wire has a stable code, a message and a retryable flag, and is
 * rebuilt as the same typed error on the other side (see `errorFromWire`). Codes are documented
 * in docs/errors.md; a test fails when one is missing there.
 */
export const ErrorCode = {
  NO_INSTANCES: 'NO_INSTANCES',
  TIMEOUT: 'TIMEOUT',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  NO_SUCH_METHOD: 'NO_SUCH_METHOD',
  HANDLER_ERROR: 'HANDLER_ERROR',
  BAD_REQUEST: 'BAD_REQUEST',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  CONNECTION_LOST: 'CONNECTION_LOST',
  UNAVAILABLE: 'UNAVAILABLE',
  CLOSED: 'CLOSED',
  AUTH_FAILED: 'AUTH_FAILED',
  RATE_LIMITED: 'RATE_LIMITED',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface SquadronErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  details?: Record<string, unknown>;
}

/** Base class of every typed Squadron error. */
export class SquadronError extends Error {
  override readonly name: string = 'SquadronError';
  readonly code: string;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: SquadronErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

/** No live instance of the service in any reachable site. Nothing was sent. */
export class NoInstancesError extends SquadronError {
  override readonly name = 'NoInstancesError';
  constructor(readonly service: string) {
    super(ErrorCode.NO_INSTANCES, `no live instance of service '${service}' in any site`, { retryable: true });
  }
}

/** The caller's deadline passed before a reply came. The handler may or may not have run. */
export class TimeoutError extends SquadronError {
  override readonly name = 'TimeoutError';
  constructor(message: string, options: SquadronErrorOptions = {}) {
    super(ErrorCode.TIMEOUT, message, { retryable: true, ...options });
  }
}

/** The request reached its callee after its deadline; the handler was not started. */
export class DeadlineExceededError extends SquadronError {
  override readonly name = 'DeadlineExceededError';
  constructor(message: string) {
    super(ErrorCode.DEADLINE_EXCEEDED, message, { retryable: false });
  }
}

export class NoSuchMethodError extends SquadronError {
  override readonly name = 'NoSuchMethodError';
  constructor(message: string) {
    super(ErrorCode.NO_SUCH_METHOD, message);
  }

  static of(service: string, method: string): NoSuchMethodError {
    return new NoSuchMethodError(`service '${service}' has no method '${method}'`);
  }
}

/** A handler threw. `retryable` is what the handler said (default false). */
export class HandlerError extends SquadronError {
  override readonly name = 'HandlerError';
  constructor(message: string, options: SquadronErrorOptions = {}) {
    super(ErrorCode.HANDLER_ERROR, message, options);
  }
}

export class BadRequestError extends SquadronError {
  override readonly name = 'BadRequestError';
  constructor(message: string, options: SquadronErrorOptions = {}) {
    super(ErrorCode.BAD_REQUEST, message, options);
  }
}

export class PayloadTooLargeError extends SquadronError {
  override readonly name = 'PayloadTooLargeError';
  constructor(readonly size: number, readonly limit: number) {
    super(ErrorCode.PAYLOAD_TOO_LARGE, `payload of ${size} bytes exceeds the limit of ${limit} bytes`);
  }
}

/** The peer broke the wire protocol; the connection is closed. */
export class ProtocolError extends SquadronError {
  override readonly name = 'ProtocolError';
  constructor(message: string, options: SquadronErrorOptions = {}) {
    super(ErrorCode.PROTOCOL_ERROR, message, options);
  }
}

/**
 * The connection dropped while the request was outstanding. `sent` tells whether the request
 * may have reached the callee: a request that was never sent is always safe to retry.
 */
export class ConnectionLostError extends SquadronError {
  override readonly name = 'ConnectionLostError';
  constructor(message: string, readonly sent: boolean, options: SquadronErrorOptions = {}) {
    super(ErrorCode.CONNECTION_LOST, message, { retryable: !sent, ...options });
  }
}

/** The callee refused to start the request (draining, overloaded). Safe to retry elsewhere. */
export class UnavailableError extends SquadronError {
  override readonly name = 'UnavailableError';
  constructor(message: string) {
    super(ErrorCode.UNAVAILABLE, message, { retryable: true });
  }
}

/** The client or connection was closed by its owner. */
export class ClosedError extends SquadronError {
  override readonly name = 'ClosedError';
  constructor(message = 'connection closed') {
    super(ErrorCode.CLOSED, message);
  }
}

/**
 * The peer's identity was not proven: no credential, a forged, expired or revoked one, or a
 * proof that does not sign this connection's nonce. The connection is closed.
 */
export class AuthFailedError extends SquadronError {
  override readonly name = 'AuthFailedError';
  constructor(message: string, options: SquadronErrorOptions = {}) {
    super(ErrorCode.AUTH_FAILED, message, options);
  }
}

/**
 * The callee refused the call: this caller is over its rate limit toward this service. Nothing
 * ran. `retryAfterMs` says when a call would be accepted again.
 */
export class RateLimitedError extends SquadronError {
  override readonly name = 'RateLimitedError';
  constructor(message: string, readonly retryAfterMs: number, options: SquadronErrorOptions = {}) {
    super(ErrorCode.RATE_LIMITED, message, { ...options, details: { retryAfterMs, ...options.details } });
  }
}

/** The caller may not do this (a policy says so, named in `details.policy`). Nothing ran. */
export class PermissionDeniedError extends SquadronError {
  override readonly name = 'PermissionDeniedError';
  constructor(message: string, options: SquadronErrorOptions = {}) {
    super(ErrorCode.PERMISSION_DENIED, message, options);
  }
}

/**
 * Taking this would pass a limit of what the sender may hold (a queue's depth or bytes, its
 * squad's total, a connection's subscriptions). Nothing was stored. `details` names the limit,
 * its maximum and what is used.
 */
export class QuotaExceededError extends SquadronError {
  override readonly name = 'QuotaExceededError';
  constructor(message: string, readonly limit: string, readonly max: number, readonly used: number, options: SquadronErrorOptions = {}) {
    super(ErrorCode.QUOTA_EXCEEDED, message, { ...options, details: { limit, max, used, ...options.details } });
  }
}

/** Wire form of an error: [code, message, retryable, details]. */
export type WireError = [string, string, boolean, Record<string, unknown> | null];

export function errorToWire(err: unknown): WireError {
  if (err instanceof SquadronError) return [err.code, err.message, err.retryable, err.details ?? null];
  const message = err instanceof Error ? err.message : String(err);
  const retryable = typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === true;
  return [ErrorCode.HANDLER_ERROR, message, retryable, null];
}

/** Rebuild the typed error a peer sent. Unknown codes stay a SquadronError with that code. */
export function errorFromWire(wire: unknown): SquadronError {
  if (!Array.isArray(wire) || typeof wire[0] !== 'string' || typeof wire[1] !== 'string') {
    return new ProtocolError('malformed error frame');
  }
  const [code, message, retryable, details] = wire as WireError;
  const options: SquadronErrorOptions = { retryable: retryable === true };
  if (details && typeof details === 'object') options.details = details;
  switch (code) {
    // These two build their message from fields the wire does not carry: keep the sender's text.
    case ErrorCode.NO_INSTANCES: return Object.assign(new NoInstancesError(field(details, 'service', '')), { message });
    case ErrorCode.PAYLOAD_TOO_LARGE:
      return Object.assign(new PayloadTooLargeError(field(details, 'size', 0), field(details, 'limit', 0)), { message });
    case ErrorCode.CONNECTION_LOST: return new ConnectionLostError(message, !options.retryable, options);
    case ErrorCode.CLOSED: return new ClosedError(message);
    case ErrorCode.TIMEOUT: return new TimeoutError(message, options);
    case ErrorCode.DEADLINE_EXCEEDED: return new DeadlineExceededError(message);
    case ErrorCode.NO_SUCH_METHOD: return new NoSuchMethodError(message);
    case ErrorCode.HANDLER_ERROR: return new HandlerError(message, options);
    case ErrorCode.BAD_REQUEST: return new BadRequestError(message, options);
    case ErrorCode.PROTOCOL_ERROR: return new ProtocolError(message, options);
    case ErrorCode.UNAVAILABLE: return new UnavailableError(message);
    case ErrorCode.AUTH_FAILED: return new AuthFailedError(message, options);
    case ErrorCode.PERMISSION_DENIED: return new PermissionDeniedError(message, options);
    case ErrorCode.RATE_LIMITED: return new RateLimitedError(message, field(details, 'retryAfterMs', 0), options);
    case ErrorCode.QUOTA_EXCEEDED:
      return new QuotaExceededError(message, field(details, 'limit', ''), field(details, 'max', 0), field(details, 'used', 0), options);
    default: return new SquadronError(code, message, options);
  }
}

function field<T extends string | number>(details: unknown, key: string, fallback: T): T {
  const v = details && typeof details === 'object' ? (details as Record<string, unknown>)[key] : undefined;
  return typeof v === typeof fallback ? (v as T) : fallback;
}
