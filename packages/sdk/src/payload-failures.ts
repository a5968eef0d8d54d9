import type { Logger } from 'pino';

/** Where an undecodable payload arrived: each is one message's failure, never its connection's. */
export type PayloadSite = 'request' | 'reply' | 'message' | 'delivery';

/** Payloads that could not be decoded, per site, since the process started. */
export type UndecodableCounts = Record<PayloadSite, number>;

/** At most one log line per this many milliseconds, whatever the rate of poison payloads. */
export const UNDECODABLE_LOG_INTERVAL_MS = 10_000;

/**
 * Counts payloads that could not be decoded and logs them, rate-limited: the first at once, then
 * at most one line per interval saying how many more came. A flood of poison costs a counter
 * increment per message, not a log line.
 */
export class PayloadFailures {
  private readonly counts: UndecodableCounts = { request: 0, reply: 0, message: 0, delivery: 0 };
  private lastLogAt = -Infinity;
  private unlogged = 0;

  constructor(private readonly log: Logger, private readonly intervalMs = UNDECODABLE_LOG_INTERVAL_MS) {}

  /** One payload at `site` could not be decoded; `where` names it (topic, queue, method). */
  count(site: PayloadSite, where: string, err: Error): void {
    this.counts[site]++;
    const now = Date.now();
    if (now - this.lastLogAt < this.intervalMs) {
      this.unlogged++;
      return;
    }
    this.lastLogAt = now;
    const suppressed = this.unlogged;
    this.unlogged = 0;
    this.log.warn({ payload: site, where, err: err.message, suppressed, undecodable: { ...this.counts } },
      `dropped a ${site} payload that cannot be decoded (${where}): ${err.message}; the connection and other messages go on`
      + (suppressed > 0 ? ` (${suppressed} more since the last such line)` : ''));
  }

  /** The counts so far, as a copy. */
  snapshot(): UndecodableCounts {
    return { ...this.counts };
  }
}
