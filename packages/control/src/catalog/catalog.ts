import type { ClaimBody, CreatedSquadBody, CreateServiceRequest, ServiceBody, ServiceClaimsBody, ServiceInterfaceBody, SquadBody } from '@squadron/client';
import type { Db, Queryable } from '../state/db.ts';
import { actorOf, mustBeAdmin, mustOwn, type Principal } from '../auth/principal.ts';
import { hashToken, newToken } from '../auth/tokens.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../control-errors.ts';
import { recordAudit } from './audit.ts';
import { claimsView, loadClaimFacts, takeClaims, type ClaimFacts } from './claims.ts';

interface ServiceRow {
  name: string;
  squad: string;
  repo: string | null;
  description: string | null;
  created_at: number;
  interface: string | null;
  release: number | null;
  desired: string;
}

export function serviceBody(r: ServiceRow, facts: ClaimFacts): ServiceBody {
  const iface = r.interface ? (JSON.parse(r.interface) as ServiceInterfaceBody) : null;
  return {
    name: r.name, squad: r.squad, repo: r.repo, description: r.description, createdAt: r.created_at,
    interface: iface, release: r.release, desired: JSON.parse(r.desired) as Record<string, number>,
    claims: claimsView(facts, r.name, r.squad, iface),
  };
}

export async function findService(q: Queryable, name: string): Promise<ServiceBody> {
  const rows = await q.query<ServiceRow>('SELECT * FROM services WHERE name = $1', [name]);
  if (!rows[0]) throw new NotFoundError('service', name, "'squadron services list' shows them");
  return serviceBody(rows[0], await loadClaimFacts(q));
}

/** What an agent's report of an interface changed: the names claimed, and the claims refused. */
export interface InterfaceOutcome {
  service: string;
  squad: string;
  taken: ClaimBody[];
  refused: ServiceClaimsBody['refused'];
}

/**
 * Squads and their services. The catalog is transparent: every caller reads all of it; only the
 * owner squad (or the admin) changes a service.
 */
export class Catalog {
  constructor(private readonly db: Db) {}

  /** Admin only. The token is returned this once; only its hash is kept. */
  createSquad(by: Principal, name: string): Promise<CreatedSquadBody> {
    mustBeAdmin(by, 'create squads');
    return this.db.tx(async (q) => {
      if ((await q.query('SELECT 1 FROM squads WHERE name = $1', [name])).length > 0) throw new ConflictError(`squad '${name}' exists already`);
      const token = newToken('squad');
      const createdAt = Date.now();
      await q.query('INSERT INTO squads (name, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4)', [name, hashToken(token), createdAt, actorOf(by)]);
      await recordAudit(q, actorOf(by), 'squad.create', `squad:${name}`);
      return { name, createdAt, createdBy: actorOf(by), token };
    });
  }

  async squads(): Promise<SquadBody[]> {
    const rows = await this.db.query<{ name: string; created_at: number; created_by: string }>('SELECT name, created_at, created_by FROM squads ORDER BY name');
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at, createdBy: r.created_by }));
  }

  /** A squad creates services for itself; the admin for any squad. */
  createService(by: Principal, req: CreateServiceRequest): Promise<ServiceBody> {
    if (by.kind === 'squad' && by.name !== req.squad) {
      throw new ForbiddenError(`you are squad '${by.name}'; you may create services for your own squad only, not for '${req.squad}'`);
    }
    return this.db.tx(async (q) => {
      if ((await q.query('SELECT 1 FROM squads WHERE name = $1', [req.squad])).length === 0) throw new NotFoundError('squad', req.squad, "'squadron squads list' shows them");
      if ((await q.query('SELECT 1 FROM services WHERE name = $1', [req.name])).length > 0) throw new ConflictError(`service '${req.name}' exists already`);
      await q.query('INSERT INTO services (name, squad, repo, description, created_at) VALUES ($1, $2, $3, $4, $5)', [req.name, req.squad, req.repo ?? null, req.description ?? null, Date.now()]);
      await recordAudit(q, actorOf(by), 'service.create', `service:${req.name}`, { squad: req.squad, ...(req.repo ? { repo: req.repo } : {}) });
      return findService(q, req.name);
    });
  }

  async services(): Promise<ServiceBody[]> {
    const rows = await this.db.query<ServiceRow>('SELECT * FROM services ORDER BY name');
    const facts = await loadClaimFacts(this.db);
    return rows.map((r) => serviceBody(r, facts));
  }

  service(name: string): Promise<ServiceBody> {
    return findService(this.db, name);
  }

  /** Check that `by` may change `service`; returns it. */
  async owned(q: Queryable, by: Principal, service: string): Promise<ServiceBody> {
    const s = await findService(q, service);
    mustOwn(by, s.squad, `service '${service}'`);
    return s;
  }

  /**
   * What the running code of the current release declares, as its instances report it. A new
   * interface claims the topics and queues it declares that nobody holds; each claim taken and
   * each refused is audited, once per change of interface (every instance reports it). Null when
   * the report is of another release, or of the interface already kept.
   */
  setInterface(service: string, release: number, iface: ServiceInterfaceBody): Promise<InterfaceOutcome | null> {
    return this.db.tx(async (q) => {
      const [row] = await q.query<{ squad: string; interface: string | null }>('SELECT squad, interface FROM services WHERE name = $1 AND release = $2', [service, release]);
      const text = JSON.stringify(iface);
      if (!row || row.interface === text) return null;
      await q.query('UPDATE services SET interface = $1 WHERE name = $2 AND release = $3', [text, service, release]);
      const { taken, view } = await takeClaims(q, service, row.squad, iface);
      for (const c of taken) await recordAudit(q, 'platform', 'claim.take', `service:${service}`, { ...c, squad: row.squad, release });
      for (const r of view.refused) await recordAudit(q, 'platform', 'claim.refused', `service:${service}`, { kind: r.kind, name: r.name, owner: r.owner, ownerSquad: r.ownerSquad, release });
      return { service, squad: row.squad, taken, refused: view.refused };
    });
  }
}
