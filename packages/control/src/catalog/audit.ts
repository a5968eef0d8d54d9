import type { AuditBody } from '@squadron/client';
import type { Queryable } from '../state/db.ts';

/** Write who did what to what, inside the transaction that made the change: both land or neither. */
export async function recordAudit(q: Queryable, actor: string, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
  await q.query('INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)', [Date.now(), actor, action, target, JSON.stringify(detail)]);
}

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  detail: string;
}

/**
 * Targets are kept as `KIND:NAME` (`service:playlists`, `storage:ledger`); a bare name is a
 * service's, the target people ask about most, and the one they name without its kind.
 */
export function auditTarget(target: string): string {
  return target.includes(':') ? target : `service:${target}`;
}

/** The newest entries first; `target` as `KIND:NAME`, or a service's bare name. */
export async function listAudit(q: Queryable, options: { limit?: number; target?: string } = {}): Promise<AuditBody[]> {
  const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
  const rows = options.target !== undefined
    ? await q.query<AuditRow>('SELECT id, at, actor, action, target, detail FROM audit WHERE target = $1 ORDER BY id DESC LIMIT $2', [auditTarget(options.target), limit])
    : await q.query<AuditRow>('SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT $1', [limit]);
  return rows.map((r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, target: r.target, detail: JSON.parse(r.detail) as Record<string, unknown> }));
}
