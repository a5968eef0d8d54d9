import { randomBytes } from 'node:crypto';

// A random per-process prefix and a counter: unique across processes, and cheap on the hot path.
const prefix = randomBytes(6).toString('hex');
let counter = 0;

/** A new trace id for a call or message that does not continue an existing trace. */
export function newTraceId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return prefix + counter.toString(36);
}
