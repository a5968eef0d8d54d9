/**
 * A token bucket: `burst` tokens at most, refilled at `ratePerSecond`. Over any window of T
 * seconds it lets at most burst + rate × T calls through (plus one, for where the window
 * starts). Time is passed in (milliseconds, monotonic), so the bucket is exact and testable.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(readonly ratePerSecond: number, readonly burst: number, now: number) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) throw new RangeError(`a rate limit needs a rate above 0 and a burst of at least 1 (got ${ratePerSecond}/s, burst ${burst})`);
    this.tokens = burst;
    this.last = now;
  }

  /** Take one token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** How long until a token is there (0 if one is). */
  retryAfterMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
      this.last = now;
    }
  }
}
