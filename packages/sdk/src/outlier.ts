import type { OutlierPolicy } from './options.ts';

/**
 * Per-instance circuit breaker. After `consecutiveFailures` failures in a row the instance is
 * ejected: callers skip it. When the ejection ends, one request probes it; success restores it,
 * failure ejects it again for twice as long.
 */
export class InstanceHealth {
  private failures = 0;
  private ejections = 0;
  private ejectedUntil = 0;
  private probing = false;

  constructor(private readonly policy: OutlierPolicy) {}

  get ejected(): boolean {
    return this.ejectedUntil !== 0;
  }

  /** May this instance take a request now? Claims the probe slot when the ejection has ended. */
  available(now: number): boolean {
    if (this.ejectedUntil === 0) return true;
    if (now < this.ejectedUntil || this.probing) return false;
    return true;
  }

  /** Called when the instance is chosen: an ejected one is being probed. */
  chosen(): void {
    if (this.ejectedUntil !== 0) this.probing = true;
  }

  success(): void {
    this.failures = 0;
    if (this.ejectedUntil !== 0) {
      this.ejectedUntil = 0;
      this.ejections = 0;
      this.probing = false;
    }
  }

  failure(now: number): void {
    this.failures++;
    if (this.probing || this.failures >= this.policy.consecutiveFailures) {
      const ms = Math.min(this.policy.maxEjectionMs, this.policy.baseEjectionMs * 2 ** this.ejections);
      this.ejections++;
      this.ejectedUntil = now + ms;
      this.probing = false;
      this.failures = 0;
    }
  }
}
