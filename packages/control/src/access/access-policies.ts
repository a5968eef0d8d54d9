import { createHash } from 'node:crypto';
import type { AccessRequest, DenyRequest, GrantRequest, ServicePolicyBody } from '@squadron/client';
import { rateLimit, type Access, type DenyRule, type GrantRule, type PolicySet, type RateLimit, type ServicePolicy } from '@squadron/policy';
import type { Db, Queryable } from '../state/db.ts';
import { actorOf, type Principal } from '../auth/principal.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { NotFoundError } from '../control-errors.ts';
import { recordAudit } from '../catalog/audit.ts';
import type { QueueQuotaStore } from '../queues/queue-quotas.ts';

interface RuleRow {
  service: string;
  caller: string;
  kind: 'grant' | 'deny';
  methods: string | null;
  rate: number | null;
  burst: number | null;
  publish: string;
  subscribe: string;
  consume: string;
}

interface PolicyServiceRow {
  name: string;
  squad: string;
  access: Access;
}

interface ClaimRow {
  service: string;
  kind: 'topic' | 'queue';
  name: string;
}

/**
 * Who may call, publish to, subscribe to and consume what, and at what rate: each service's
 * access (open or restricted), its grants and its deny rules. Only the owner squad (or the
 * admin) changes them; each change is audited in its own transaction. Brokers and agents read
 * the whole set (`policySet`) about twice a second, so a change takes effect within a second.
 */
export class AccessPolicies {
  constructor(private readonly db: Db, private readonly catalog: Catalog, private readonly defaultRate: RateLimit, private readonly queueQuotas?: QueueQuotaStore) {}

  setAccess(by: Principal, service: string, req: AccessRequest): Promise<ServicePolicyBody> {
    return this.db.tx(async (q) => {
      await this.catalog.owned(q, by, service);
      await q.query('UPDATE services SET access = $1 WHERE name = $2', [req.access, service]);
      await recordAudit(q, actorOf(by), 'access.set', `service:${service}`, { access: req.access });
      return this.policyIn(q, service);
    });
  }

  grant(by: Principal, service: string, caller: string, req: GrantRequest): Promise<ServicePolicyBody> {
    return this.db.tx(async (q) => {
      await this.catalog.owned(q, by, service);
      await mustExist(q, caller);
      const methods = req.methods ?? (messagingOnly(req) ? [] : null);
      const limit = req.ratePerSecond !== undefined ? rateLimit(req.ratePerSecond, req.burst) : req.burst !== undefined ? { ...this.defaultRate, burst: req.burst } : null;
      await q.query('DELETE FROM access_rules WHERE service = $1 AND caller = $2 AND kind = $3', [service, caller, 'grant']);
      await q.query(
        'INSERT INTO access_rules (service, caller, kind, methods, rate, burst, publish, subscribe, consume, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
        [service, caller, 'grant', methods === null ? null : JSON.stringify(methods), limit?.ratePerSecond ?? null, limit?.burst ?? null,
          JSON.stringify(req.publish ?? []), JSON.stringify(req.subscribe ?? []), JSON.stringify(req.consume ?? []), Date.now(), actorOf(by)],
      );
      await recordAudit(q, actorOf(by), 'access.grant', `service:${service}`, { caller, methods, ...(limit ? { rate: limit } : {}), ...pick(req) });
      return this.policyIn(q, service);
    });
  }

  deny(by: Principal, service: string, caller: string, req: DenyRequest): Promise<ServicePolicyBody> {
    return this.db.tx(async (q) => {
      await this.catalog.owned(q, by, service);
      await mustExist(q, caller);
      await q.query('DELETE FROM access_rules WHERE service = $1 AND caller = $2 AND kind = $3', [service, caller, 'deny']);
      await q.query(
        'INSERT INTO access_rules (service, caller, kind, methods, rate, burst, publish, subscribe, consume, created_at, created_by) VALUES ($1, $2, $3, $4, NULL, NULL, $5, $5, $5, $6, $7)',
        [service, caller, 'deny', req.methods === undefined ? null : JSON.stringify(req.methods), '[]', Date.now(), actorOf(by)],
      );
      await recordAudit(q, actorOf(by), 'access.deny', `service:${service}`, { caller, methods: req.methods ?? null });
      return this.policyIn(q, service);
    });
  }

  /** Remove every rule (grant and deny) that names `caller` on `service`. */
  revoke(by: Principal, service: string, caller: string): Promise<ServicePolicyBody> {
    return this.db.tx(async (q) => {
      await this.catalog.owned(q, by, service);
      const rules = await q.query<{ kind: string }>('SELECT kind FROM access_rules WHERE service = $1 AND caller = $2', [service, caller]);
      if (rules.length === 0) throw new NotFoundError('rule', `${caller} on ${service}`, `'squadron policy ${service}' shows its rules`);
      await q.query('DELETE FROM access_rules WHERE service = $1 AND caller = $2', [service, caller]);
      await recordAudit(q, actorOf(by), 'access.revoke', `service:${service}`, { caller, removed: rules.map((r) => r.kind) });
      return this.policyIn(q, service);
    });
  }

  policy(service: string): Promise<ServicePolicyBody> {
    return this.policyIn(this.db, service);
  }

  /** Every service's policy; its version is a digest of the content, so it changes exactly when the set does. */
  async policySet(): Promise<PolicySet> {
    const services = await this.db.query<PolicyServiceRow>('SELECT name, squad, access FROM services ORDER BY name');
    const rules = await this.db.query<RuleRow>('SELECT * FROM access_rules ORDER BY service, caller, kind');
    const claims = await this.db.query<ClaimRow>('SELECT service, kind, name FROM claims ORDER BY service, kind, name');
    const byService = new Map<string, RuleRow[]>();
    for (const r of rules) (byService.get(r.service) ?? byService.set(r.service, []).get(r.service)!).push(r);
    const claimsOf = new Map<string, ClaimRow[]>();
    for (const c of claims) (claimsOf.get(c.service) ?? claimsOf.set(c.service, []).get(c.service)!).push(c);
    const set: Omit<PolicySet, 'version'> = {
      defaultRate: this.defaultRate,
      services: Object.fromEntries(services.map((s) => [s.name, servicePolicy(s, byService.get(s.name) ?? [], claimsOf.get(s.name) ?? [])])),
      ...(this.queueQuotas ? { queueQuotas: await this.queueQuotas.quotas() } : {}),
    };
    return { version: createHash('sha256').update(JSON.stringify(set)).digest('base64url').slice(0, 22), ...set };
  }

  private async policyIn(q: Queryable, service: string): Promise<ServicePolicyBody> {
    const rows = await q.query<PolicyServiceRow>('SELECT name, squad, access FROM services WHERE name = $1', [service]);
    if (!rows[0]) throw new NotFoundError('service', service, "'squadron services list' shows them");
    const rules = await q.query<RuleRow>('SELECT * FROM access_rules WHERE service = $1 ORDER BY caller, kind', [service]);
    const claims = await q.query<ClaimRow>('SELECT service, kind, name FROM claims WHERE service = $1 ORDER BY kind, name', [service]);
    return { service, ...servicePolicy(rows[0], rules, claims), defaultRate: this.defaultRate };
  }
}

/**
 * One service's policy. Its topics and queues are the names it owns by claim (catalog/claims.ts),
 * not whatever its code declares: no name is ever listed under two services.
 */
function servicePolicy(s: PolicyServiceRow, rules: RuleRow[], claims: ClaimRow[]): ServicePolicy {
  const grants: GrantRule[] = [];
  const denies: DenyRule[] = [];
  for (const r of rules) {
    const named = r.methods === null ? null : (JSON.parse(r.methods) as string[]);
    // A grant with a rate covers every method unless it names some (one stored with none before is read so).
    const methods = named !== null && named.length === 0 && r.kind === 'grant' && r.rate !== null ? null : named;
    if (r.kind === 'deny') {
      denies.push({ caller: r.caller, methods });
    } else {
      grants.push({
        caller: r.caller, methods,
        rate: r.rate === null ? null : { ratePerSecond: r.rate, burst: r.burst ?? Math.ceil(r.rate * 2) },
        publish: JSON.parse(r.publish) as string[], subscribe: JSON.parse(r.subscribe) as string[], consume: JSON.parse(r.consume) as string[],
      });
    }
  }
  const owned = (kind: ClaimRow['kind']) => claims.filter((c) => c.kind === kind).map((c) => c.name);
  return { squad: s.squad, access: s.access, grants, denies, topics: owned('topic'), queues: owned('queue') };
}

/** A rule's caller must name a service or a squad the platform knows. */
async function mustExist(q: Queryable, caller: string): Promise<void> {
  if (caller.startsWith('squad:')) {
    const squad = caller.slice('squad:'.length);
    if ((await q.query('SELECT 1 FROM squads WHERE name = $1', [squad])).length === 0) throw new NotFoundError('squad', squad, "'squadron squads list' shows them");
  } else if ((await q.query('SELECT 1 FROM services WHERE name = $1', [caller])).length === 0) {
    throw new NotFoundError('service', caller, "'squadron services list' shows them; name a whole squad as squad:NAME");
  }
}

/**
 * A grant of topics or queues alone covers no method: one without `methods` that names neither a
 * rate nor a burst. Any other grant without `methods` covers every method.
 */
function messagingOnly(req: GrantRequest): boolean {
  if (req.methods !== undefined || req.ratePerSecond !== undefined || req.burst !== undefined) return false;
  return [req.publish, req.subscribe, req.consume].some((l) => l !== undefined && l.length > 0);
}

function pick(req: GrantRequest): Partial<GrantRequest> {
  const out: Partial<GrantRequest> = {};
  for (const k of ['publish', 'subscribe', 'consume'] as const) if (req[k]?.length) out[k] = req[k];
  return out;
}
