/** Options of one call. */
export interface CallOptions {
  /** Give up after this long (default 5000 ms, or what remains of the handler's own deadline). */
  timeoutMs?: number;
  /** Continue this trace instead of starting one. */
  traceId?: string;
  /** Prefer this site over the caller's own. */
  site?: string;
}

/** How a caller spreads calls over a service's instances. */
export type BalancePolicy = 'least-outstanding' | 'round-robin';

export interface RetryPolicy {
  /** Retries may add at most this share of calls (default 0.2). */
  budgetRatio: number;
  /** Retries always allowed per second, whatever the call rate (default 10). */
  minRetriesPerSecond: number;
  /** Attempts for one call, the first included (default 3). */
  maxAttempts: number;
}

export interface OutlierPolicy {
  /** Consecutive failures that eject an instance (default 5). */
  consecutiveFailures: number;
  /** First ejection; doubles with each ejection in a row, up to maxEjectionMs (default 1000). */
  baseEjectionMs: number;
  maxEjectionMs: number;
}

export const DEFAULT_TIMEOUT_MS = 5000;

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ budgetRatio: 0.2, minRetriesPerSecond: 10, maxAttempts: 3 });

export const DEFAULT_OUTLIER_POLICY: OutlierPolicy = Object.freeze({ consecutiveFailures: 5, baseEjectionMs: 1000, maxEjectionMs: 30_000 });
