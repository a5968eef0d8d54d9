import type { RetryPolicy } from './options.ts';

/**
 * Retries may add only a share of the calls made, plus a small floor per second, so that a
 * failing callee does not see its load multiplied by retries (the budget of Finagle and gRPC).
 */
export class RetryBudget {
  private tokens = 0;
  private floorTokens: number;
  private floorRefilledAt = Date.now();
  private readonly cap: number;

  constructor(private readonly policy: RetryPolicy) {
    this.floorTokens = policy.minRetriesPerSecond;
    this.cap = Math.max(10, policy.budgetRatio * 1000);
  }

  /** Every first attempt earns a share of a retry. */
  deposit(): void {
    if (this.tokens < this.cap) this.tokens += this.policy.budgetRatio;
  }

  /** Spend one retry if the budget has it. */
  tryWithdraw(): boolean {
    const now = Date.now();
    const elapsed = now - this.floorRefilledAt;
    if (elapsed >= 100) {
      this.floorTokens = Math.min(this.policy.minRetriesPerSecond, this.floorTokens + (elapsed / 1000) * this.policy.minRetriesPerSecond);
      this.floorRefilledAt = now;
    }
    // A tenth added ten times is 0.999…: compare with a little slack.
    if (this.tokens >= 1 - 1e-9) {
      this.tokens -= 1;
      return true;
    }
    if (this.floorTokens >= 1) {
      this.floorTokens -= 1;
      return true;
    }
    return false;
  }
}
