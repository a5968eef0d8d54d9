import type { Policies } from '@squadron/policy';

/**
 * Where an instance finds the platform's current access policies: its runtime keeps `current`
 * up to date (from its agent, or from the control plane), and every call reads it afresh, so a
 * change applies to the next call without a restart. Null until the first set arrives.
 */
export interface PolicySource {
  readonly current: Policies | null;
}

/** A PolicySource that whoever learns of a change sets. */
export class PolicyHolder implements PolicySource {
  current: Policies | null = null;

  set(policies: Policies): void {
    if (this.current?.version !== policies.version) this.current = policies;
  }
}
