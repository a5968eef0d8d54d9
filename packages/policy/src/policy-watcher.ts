import { Policies } from './policies.ts';
import type { PolicySet } from './policy-set.ts';

/** GET /v1/policies: the whole set, or only its version when the asker has it already. */
export type PolicyAnswer = ({ changed: true } & PolicySet) | { changed: false; version: string };

/** Where a watcher asks: the control plane's API client, or a plain fetch of /v1/policies. */
export interface PolicySource {
  policies(since?: string): Promise<PolicyAnswer>;
}

/** How often the policies are asked for: a change reaches every broker and instance within a second. */
export const POLICIES_EVERY_MS = 500;

interface WatchLog {
  debug(obj: object, msg: string): void;
}

/**
 * Keeps a process's view of the platform's access policies current: asks the control plane
 * every `everyMs` whether the set changed (a cheap answer when it did not), and hands each new
 * set to `onChange`. While the control plane cannot be reached, the last set stays in force.
 */
export class PolicyWatcher {
  private timer: NodeJS.Timeout | null = null;
  private version: string | undefined;
  private polling = false;

  constructor(
    private readonly control: PolicySource,
    private readonly onChange: (policies: Policies) => void,
    private readonly log: WatchLog,
    private readonly everyMs = POLICIES_EVERY_MS,
  ) {}

  /** Fetch the first set (resolves whether or not it could), then keep polling. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const answer = await this.control.policies(this.version);
      if (!answer.changed) return;
      const { changed: _, ...set } = answer;
      this.version = set.version;
      this.onChange(new Policies(set));
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cannot read the access policies; keeping the last set');
    } finally {
      this.polling = false;
    }
  }
}
