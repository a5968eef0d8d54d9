import type { Logger } from 'pino';
import type { ControlClient } from '@squadron/client';
import { PolicyWatcher, type PolicySet } from '@squadron/policy';

/** Environment with the access policies (JSON) when an instance starts; changes come over IPC. */
export const POLICIES_ENV = 'SQUADRON_POLICIES';
/** Past this, a set goes over IPC only (an environment variable holds at most 128 KiB on Linux). */
const MAX_ENV_BYTES = 100_000;

/**
 * The access policies for the instances an agent runs: read from the control plane about twice
 * a second, handed to each new instance in its environment and to running ones over IPC, so
 * that every instance judges its callers by the current set without a restart.
 */
export class InstancePolicies {
  private watcher: PolicyWatcher | null = null;
  private json = '';

  constructor(
    private readonly control: Pick<ControlClient, 'policies'>,
    private readonly update: (instance: string, env: Record<string, string>, message: object) => void,
    private readonly log: Logger,
  ) {}

  /** The environment a new instance starts with (empty until the first set arrived). */
  env(): Record<string, string> {
    return this.json && this.json.length <= MAX_ENV_BYTES ? { [POLICIES_ENV]: this.json } : {};
  }

  watch(instances: () => string[]): void {
    this.watcher ??= new PolicyWatcher(this.control, (policies) => {
      this.json = JSON.stringify(policies.set);
      const set: PolicySet = policies.set;
      for (const id of instances()) this.update(id, this.env(), { type: 'policies', set });
    }, this.log);
    void this.watcher.start();
  }

  stop(): void {
    this.watcher?.stop();
  }
}
