import { StorageError } from '../provisioner.ts';
import type { PostgresCluster } from './cluster.ts';
import { failover } from './failover.ts';

/** When the monitor fails a resource over on its own. */
export interface FailoverPolicy {
  /** Fail over on its own at all (else only on command; dead servers are still brought back). Default true. */
  automatic: boolean;
  /** How often the primary is asked `SELECT 1` on a new connection. Default 500 ms. */
  probeIntervalMs: number;
  /** How long each probe may take before it counts as unanswered. Default 1000 ms. */
  probeTimeoutMs: number;
  /** How long the primary may go unanswered before a standby takes over. Default 2000 ms. */
  failAfterMs: number;
}

export const DEFAULT_FAILOVER_POLICY: Readonly<FailoverPolicy> = Object.freeze({
  automatic: true,
  probeIntervalMs: 500,
  probeTimeoutMs: 1_000,
  failAfterMs: 2_000,
});

/**
 * Watches one resource: probes the primary, and when it has not answered for `failAfterMs`
 * promotes the most advanced standby (see `failover`); each round also brings back any server
 * that is down (a killed standby, an old primary to rebuild). Probes are fresh connections as
 * the superuser, whose reserved connections keep a primary full of clients from looking dead.
 */
export class FailoverMonitor {
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private lastAnswer = Date.now();
  private silentSince: number | null = null;

  constructor(private readonly cluster: PostgresCluster, private readonly policy: FailoverPolicy) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastAnswer = Date.now();
    this.loop = this.run();
  }

  /** Stops watching; resolves once the round in progress (a failover, say) is over. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.round();
      } catch (err) {
        this.cluster.deps.log.warn({ resource: this.cluster.spec.name, err: (err as Error).message }, 'postgres monitor round failed');
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.policy.probeIntervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private async round(): Promise<void> {
    const primary = this.cluster.primaryServer();
    const answered = primary.running && (await primary.answers(this.policy.probeTimeoutMs));
    const now = Date.now();
    if (answered) {
      this.lastAnswer = now;
      this.silentSince = null;
      await this.cluster.heal(false);
      return;
    }
    this.silentSince ??= now;
    if (!this.running || now - this.lastAnswer < this.policy.failAfterMs) return;
    if (this.policy.automatic) {
      try {
        await failover(this.cluster, { reason: 'primary silent', since: this.silentSince, from: primary.site });
        this.lastAnswer = Date.now();
        this.silentSince = null;
        return;
      } catch (err) {
        if (err instanceof StorageError && err.code === 'CONFLICT') {
          // A failover on command moved it while this round waited: judge the new primary afresh.
          this.lastAnswer = Date.now();
          this.silentSince = null;
          return;
        }
        // heal(true) below restarts a primary whose process is gone; one still running is left to answer.
        const next = primary.running ? 'waiting for the primary (still running) or a standby to answer' : 'restarting the primary in place';
        this.cluster.deps.log.warn({ resource: this.cluster.spec.name, err: (err as Error).message }, `no failover possible; ${next}`);
      }
    }
    // Nobody to take over (or not allowed to): a primary whose process is gone starts again as it is.
    await this.cluster.heal(true);
  }
}
