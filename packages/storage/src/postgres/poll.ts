import { setTimeout as sleep } from 'node:timers/promises';
import { StorageError } from '../provisioner.ts';

/**
 * Asks `check` every `intervalMs` until it returns something truthy; after `timeoutMs` throws a
 * STORAGE_UNAVAILABLE error naming `what` and the last failure. Servers come up and catch up at
 * their own pace, so the provisioner waits on what they report, never for a fixed time.
 */
export async function pollUntil<T>(check: () => Promise<T> | T, what: string, timeoutMs: number, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      // A StorageError is a verdict (the server exited, say), not a reason to keep asking.
      if (err instanceof StorageError) throw err;
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? `: ${last.message}` : '';
      throw new StorageError('STORAGE_UNAVAILABLE', `gave up after ${timeoutMs} ms waiting for ${what}${why}`, { cause: last });
    }
    await sleep(intervalMs);
  }
}
