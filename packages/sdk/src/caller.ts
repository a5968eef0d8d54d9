import {
  ErrorCode, NoInstancesError, ConnectionLostError, SquadronError, TimeoutError,
} from '@squadron/protocol';
import type { Directory, InstanceEntry } from './directory.ts';
import type { RetryBudget } from './retry-budget.ts';
import type { RetryPolicy } from './options.ts';

/** The request never reached a handler: safe to send elsewhere, whatever the method. */
function notStarted(err: unknown): boolean {
  if (err instanceof ConnectionLostError) return !err.sent;
  return err instanceof SquadronError && err.code === ErrorCode.UNAVAILABLE;
}

/** Failures that say something about the instance, not about the request. */
function instanceFault(err: unknown): boolean {
  if (err instanceof ConnectionLostError || err instanceof TimeoutError) return true;
  return err instanceof SquadronError && err.code === ErrorCode.HANDLER_ERROR && err.retryable;
}

/**
 * One call: pick an instance, send, and on failure decide whether another instance may try.
 * A request that never started is always re-sent (to another instance, another site if need
 * be). One that may have run is re-sent only for an idempotent method, within the retry budget
 * and `maxAttempts`. Every outcome feeds the instance's circuit breaker.
 */
export async function callWithRetries(
  directory: Directory,
  budget: RetryBudget,
  policy: RetryPolicy,
  service: string,
  method: string,
  payload: unknown,
  deadline: number,
  traceId: string,
  preferSite: string | undefined,
): Promise<unknown> {
  budget.deposit();
  let exclude: Set<InstanceEntry> | null = null;
  let attempts = 0;
  let lastError: unknown = null;
  for (;;) {
    const entry = directory.pick(service, exclude, preferSite);
    if (entry === null) throw lastError ?? new NoInstancesError(service);
    try {
      const reply = await entry.channelFor().request(method, payload, deadline, traceId);
      entry.health.success();
      return reply;
    } catch (err) {
      lastError = err;
      const now = Date.now();
      if (instanceFault(err)) entry.health.failure(now);
      else entry.health.success();
      if (now >= deadline) throw err;
      if (!notStarted(err)) {
        attempts++;
        const retryable = err instanceof SquadronError && err.retryable && err.code !== ErrorCode.TIMEOUT;
        if (!retryable && !(err instanceof ConnectionLostError)) throw err;
        if (!entry.isIdempotent(method) || attempts >= policy.maxAttempts || !budget.tryWithdraw()) throw err;
      }
      (exclude ??= new Set()).add(entry);
    }
  }
}
