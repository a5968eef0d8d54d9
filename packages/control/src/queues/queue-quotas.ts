import { QuotaExceededError } from '@squadron/protocol';
import { fitsWithin, formatBytes, type QueueLimit, type QueueQuotas } from '@squadron/policy';
import type { QueueQuotasBody } from '@squadron/client';
import type { Db, Queryable } from '../state/db.ts';
import { actorOf, mustBeAdmin, type Principal } from '../auth/principal.ts';
import { recordAudit } from '../catalog/audit.ts';
import { loadClaimFacts, mustOwnQueue, ownerSquadOf } from '../catalog/claims.ts';
import { NotFoundError } from '../control-errors.ts';

interface LimitRow {
  max_messages: number;
  max_bytes: number;
}

const limitOf = (r: LimitRow): QueueLimit => ({ maxMessages: r.max_messages, maxBytes: r.max_bytes });

/**
 * Queue quotas, as the control plane keeps them: the platform's defaults (from its config), the
 * limits owners set on their queues, and the totals the admin sets for squads. Brokers get all
 * of it with the policies (`policySet().queueQuotas`) and enforce it at each site; changes are
 * audited and in force within a second.
 */
export class QueueQuotaStore {
  constructor(private readonly db: Db, private readonly defaults: Pick<QueueQuotas, 'queueDefault' | 'squadDefault' | 'unclaimed'>) {}

  /**
   * The owner squad (or the admin) sets a queue's limit, within its squad's total: a queue may
   * not be promised more than the squad may hold in all.
   */
  setQueueLimit(by: Principal, queue: string, limit: QueueLimit): Promise<QueueQuotasBody> {
    return this.db.tx(async (q) => {
      await mustOwnQueue(q, by, queue, 'set its limit');
      const squad = ownerSquadOf(await loadClaimFacts(q), 'queue', queue);
      const total = squad === null ? this.defaults.unclaimed : await this.squadTotal(q, squad);
      if (!fitsWithin(limit, total)) {
        const overBytes = limit.maxBytes > total.maxBytes;
        const whose = squad === null ? 'the queues nobody claimed' : `squad '${squad}'`;
        throw new QuotaExceededError(
          `a limit of ${limit.maxMessages} messages and ${formatBytes(limit.maxBytes)} for queue '${queue}' is over the total of ${whose} ` +
          `(${total.maxMessages} messages, ${formatBytes(total.maxBytes)}): ask the platform admin for a larger total (squadron queues quota ${squad ?? 'SQUAD'} --max-messages N --max-bytes SIZE)`,
          overBytes ? 'squad-bytes' : 'squad-messages', overBytes ? total.maxBytes : total.maxMessages, overBytes ? limit.maxBytes : limit.maxMessages,
        );
      }
      await upsertLimit(q, 'queue_limits', 'queue', queue, limit, by);
      await recordAudit(q, actorOf(by), 'queue.limit', `queue:${queue}`, { ...limit });
      return this.bodyIn(q);
    });
  }

  /** Back to the platform's default limit. */
  clearQueueLimit(by: Principal, queue: string): Promise<QueueQuotasBody> {
    return this.db.tx(async (q) => {
      await mustOwnQueue(q, by, queue, 'set its limit');
      const removed = await q.query('DELETE FROM queue_limits WHERE queue = $1 RETURNING queue', [queue]);
      if (removed.length === 0) throw new NotFoundError('queue limit', queue, 'the queue has the default limit already');
      await recordAudit(q, actorOf(by), 'queue.limit.clear', `queue:${queue}`);
      return this.bodyIn(q);
    });
  }

  /** The admin sets what all of a squad's queues may hold at each site. */
  setSquadTotal(by: Principal, squad: string, total: QueueLimit): Promise<QueueQuotasBody> {
    mustBeAdmin(by, 'set squads\' queue totals');
    return this.db.tx(async (q) => {
      if ((await q.query('SELECT 1 FROM squads WHERE name = $1', [squad])).length === 0) throw new NotFoundError('squad', squad, "'squadron squads list' shows them");
      await upsertLimit(q, 'squad_queue_totals', 'squad', squad, total, by);
      await recordAudit(q, actorOf(by), 'squad.queue-total', `squad:${squad}`, { ...total });
      return this.bodyIn(q);
    });
  }

  /** What the brokers enforce. */
  async quotas(q: Queryable = this.db): Promise<QueueQuotas> {
    const queues = await q.query<LimitRow & { queue: string }>('SELECT queue, max_messages, max_bytes FROM queue_limits ORDER BY queue');
    const squads = await q.query<LimitRow & { squad: string }>('SELECT squad, max_messages, max_bytes FROM squad_queue_totals ORDER BY squad');
    return {
      ...this.defaults,
      queues: Object.fromEntries(queues.map((r) => [r.queue, limitOf(r)])),
      squads: Object.fromEntries(squads.map((r) => [r.squad, limitOf(r)])),
    };
  }

  /** The same, for the API: defaults, totals and limits (numbers only, for every squad to read). */
  body(): Promise<QueueQuotasBody> {
    return this.bodyIn(this.db);
  }

  private async bodyIn(q: Queryable): Promise<QueueQuotasBody> {
    const quotas = await this.quotas(q);
    return {
      queueDefault: quotas.queueDefault, squadDefault: quotas.squadDefault, unclaimed: quotas.unclaimed,
      queues: Object.entries(quotas.queues).map(([queue, limit]) => ({ queue, ...limit })),
      squads: Object.entries(quotas.squads).map(([squad, limit]) => ({ squad, ...limit })),
    };
  }

  private async squadTotal(q: Queryable, squad: string): Promise<QueueLimit> {
    const [row] = await q.query<LimitRow>('SELECT max_messages, max_bytes FROM squad_queue_totals WHERE squad = $1', [squad]);
    return row ? limitOf(row) : this.defaults.squadDefault;
  }
}

/** Set a limit row (a queue's, or a squad's total), replacing the one before. */
function upsertLimit(q: Queryable, table: 'queue_limits' | 'squad_queue_totals', key: 'queue' | 'squad', name: string, limit: QueueLimit, by: Principal): Promise<unknown> {
  return q.query(
    `INSERT INTO ${table} (${key}, max_messages, max_bytes, set_at, set_by) VALUES ($1, $2, $3, $4, $5) ` +
    `ON CONFLICT (${key}) DO UPDATE SET max_messages = excluded.max_messages, max_bytes = excluded.max_bytes, set_at = excluded.set_at, set_by = excluded.set_by`,
    [name, limit.maxMessages, limit.maxBytes, Date.now(), actorOf(by)],
  );
}
