import { QuotaExceededError } from '@squadron/protocol';
import type { Policies, QueueLimit, QueueQuotas } from '@squadron/policy';

/** What a queue holds now, enqueues under way included. */
export interface QueueUsage {
  messages: number;
  bytes: number;
}

/** Where the guard reads what queues hold: the queue store. */
export interface UsageSource {
  usage(queue: string): QueueUsage;
  eachUsage(visit: (queue: string, usage: QueueUsage) => void): void;
}

/** How long the per-squad totals are trusted before they are summed again from every queue. */
const SQUAD_TOTALS_TTL_MS = 250;

/**
 * The broker's side of the queue quotas (see QueueQuotas in the policies): before a message is
 * stored, its queue must stay within its limit, and its owner squad's queues at this site within
 * the squad's total. A queue's use is exact; a squad's total is summed from every queue at most
 * every 250 ms, and what was admitted since is added to it, so it can only be overcounted (a
 * settled message counts until the next sum), never under: a burst cannot slip past it.
 */
export class QueueQuotaGuard {
  private quotas: QueueQuotas | null = null;
  private policies: Policies | null = null;
  private totals = new Map<string, QueueUsage>();
  private summedAt = 0;

  constructor(private readonly source: UsageSource) {}

  set(policies: Policies): void {
    this.policies = policies;
    this.quotas = policies.set.queueQuotas ?? null;
    this.summedAt = 0; // owners or totals may have changed
  }

  /** A queue's limit, or null when no quotas are set. */
  limitOf(queue: string): QueueLimit | null {
    if (this.quotas === null) return null;
    return this.quotas.queues[queue] ?? this.quotas.queueDefault;
  }

  /** Refuse (QUOTA_EXCEEDED) one more message of `bytes` in each of `queues`, or count it and let it in. */
  admit(queues: readonly string[], bytes: number): void {
    const quotas = this.quotas;
    if (quotas === null) return;
    for (const queue of queues) refuseOver(this.limitOf(queue)!, this.source.usage(queue), bytes, 'queue', queue);
    // Each queue named takes one message: a squad's use grows by as many of its queues as are named.
    const totals = this.squadTotals();
    const squads = queues.map((queue) => this.squadOf(queue));
    for (const squad of new Set(squads)) {
      const count = squads.filter((s) => s === squad).length;
      const used = totals.get(squad);
      const limit = squad === UNCLAIMED ? quotas.unclaimed : quotas.squads[squad] ?? quotas.squadDefault;
      refuseOver(limit, { messages: (used?.messages ?? 0) + count - 1, bytes: (used?.bytes ?? 0) + (count - 1) * bytes }, bytes, 'squad', squad);
    }
    for (const squad of squads) {
      const used = totals.get(squad);
      if (used) {
        used.messages++;
        used.bytes += bytes;
      } else {
        totals.set(squad, { messages: 1, bytes });
      }
    }
  }

  private squadOf(queue: string): string {
    return this.policies?.ownerOf('queue', queue)?.squad ?? UNCLAIMED;
  }

  private squadTotals(): Map<string, QueueUsage> {
    const now = Date.now();
    if (now - this.summedAt < SQUAD_TOTALS_TTL_MS) return this.totals;
    const totals = new Map<string, QueueUsage>();
    this.source.eachUsage((queue, usage) => {
      const squad = this.squadOf(queue);
      const sum = totals.get(squad);
      if (sum) {
        sum.messages += usage.messages;
        sum.bytes += usage.bytes;
      } else {
        totals.set(squad, { messages: usage.messages, bytes: usage.bytes });
      }
    });
    this.totals = totals;
    this.summedAt = now;
    return totals;
  }
}

/** The bucket of queues that no service has claimed. */
const UNCLAIMED = '\0unclaimed';

function refuseOver(limit: QueueLimit, used: QueueUsage, bytes: number, scope: 'queue' | 'squad', name: string): void {
  if (used.messages + 1 <= limit.maxMessages && used.bytes + bytes <= limit.maxBytes) return;
  // Words only for a refusal: the admitted enqueue builds none.
  const what = scope === 'queue' ? `queue '${name}' holds` : name === UNCLAIMED ? 'the queues nobody has claimed hold' : `the queues of squad '${name}' hold`;
  const its = scope === 'queue' ? 'its' : 'their';
  if (used.messages + 1 > limit.maxMessages) {
    throw new QuotaExceededError(
      `${what} ${used.messages} messages, ${its} limit is ${limit.maxMessages}: consume what is queued, or ${hint(scope)}`,
      `${scope}-messages`, limit.maxMessages, used.messages,
    );
  }
  throw new QuotaExceededError(
    `${what} ${used.bytes} bytes and this message adds ${bytes}, over ${its} limit of ${limit.maxBytes}: consume what is queued, or ${hint(scope)}`,
    `${scope}-bytes`, limit.maxBytes, used.bytes,
  );
}

function hint(scope: 'queue' | 'squad'): string {
  return scope === 'queue'
    ? 'have its owner raise the limit (squadron queues limit QUEUE --max-messages N --max-bytes SIZE)'
    : 'ask the platform admin for a larger total (squadron queues quota SQUAD --max-messages N --max-bytes SIZE)';
}
