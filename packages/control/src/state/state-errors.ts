/**
 * Which integrity rule a refused write broke, the same word for both dialects, so callers can
 * answer "already exists" or "no such squad" without knowing SQLite's or PostgreSQL's codes.
 */
export type ConstraintViolation = 'unique' | 'foreign_key' | 'not_null' | 'check';

/**
 * Any failure of the state store: it cannot be opened or reached, a statement was refused, the
 * schema is newer than this Squadron. The driver's own error, when there is one, is the `cause`.
 */
export class StateStoreError extends Error {
  override readonly name = 'StateStoreError';
  /** Set when a statement was refused because it broke an integrity rule of the schema. */
  readonly violation: ConstraintViolation | undefined;

  constructor(message: string, options: { cause?: unknown; violation?: ConstraintViolation } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.violation = options.violation;
  }
}

/** A statement for an error message: one line, not too long. */
export function sqlExcerpt(sql: string): string {
  const line = sql.replace(/\s+/g, ' ').trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/** The message of a driver error; Node's AggregateError (one per address tried) has none itself. */
export function driverMessage(err: unknown): string {
  if (err instanceof AggregateError && !err.message && err.errors.length > 0) {
    return err.errors.map(driverMessage).join('; ');
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (err.message) return err.message;
    return typeof code === 'string' ? code : err.name;
  }
  return String(err);
}
