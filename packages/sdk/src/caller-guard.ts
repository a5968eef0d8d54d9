import { PermissionDeniedError, RateLimitedError, type SquadronError } from '@squadron/protocol';
import { callerKey, formatRate, type Caller } from '@squadron/policy';
import { CallerLimits } from './caller-limits.ts';
import type { PolicySource } from './policy-source.ts';
import type { Rejections } from './rejections.ts';

/**
 * The caller's mirror of the callee's policy: a call the callee would refuse (no permission, or
 * over the pair's rate limit) fails here at once, without a round trip, with the same typed
 * error. The mirror holds the pair's whole limit, never less, for each site a call is sent to
 * (the callees hold it per site), so it refuses nothing the callees would have accepted; the
 * callees stay the authority.
 */
export class CallerGuard {
  private readonly limits = new CallerLimits();

  private readonly key: string;

  constructor(private readonly self: Caller, private readonly policies: PolicySource, private readonly rejections: Rejections) {
    this.key = callerKey(self);
  }

  /** The refusal a call would get, or null when it may go; `site`: where the call is sent first. */
  call(service: string, method: string, site: string): SquadronError | null {
    const policies = this.policies.current;
    if (policies === null) return null;
    const decision = policies.call(this.self, service, method);
    if (!decision.ok) {
      this.rejections.count(this.key, service, 'denied');
      return new PermissionDeniedError(decision.reason, { details: { policy: decision.policy, mirrored: true } });
    }
    const admitted = this.limits.admit(`${service}@${site}`, decision.limit);
    if (admitted.ok) return null;
    this.rejections.count(this.key, service, 'rateLimited');
    const policy = formatRate(decision.limit!);
    return new RateLimitedError(
      `this service's calls to ${service} are over their limit (${policy}); retry in ${admitted.retryAfterMs} ms, or ask the squad that owns ${service} for a grant`,
      admitted.retryAfterMs, { details: { policy, mirrored: true } },
    );
  }

  /** The refusal a publish to `topic` would get at the broker, or null. */
  publish(topic: string): SquadronError | null {
    const decision = this.policies.current?.messaging(this.self, 'publish', 'topic', topic);
    return decision && !decision.ok ? new PermissionDeniedError(decision.reason, { details: { policy: decision.policy, mirrored: true } }) : null;
  }
}
