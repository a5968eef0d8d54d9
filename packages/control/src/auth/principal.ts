import type { Queryable } from '../state/db.ts';
import { hashToken, sameToken } from './tokens.ts';
import { UnauthenticatedError, ForbiddenError } from '../control-errors.ts';

/** Who a request acts as. Agents act with the admin token for now (site identity comes later). */
export interface Principal {
  kind: 'admin' | 'squad';
  /** The squad's name, or `admin`. */
  name: string;
}

/** How it is written in the audit trail. */
export function actorOf(p: Principal): string {
  return p.kind === 'admin' ? 'admin' : `squad:${p.name}`;
}

/** The principal of an `Authorization: Bearer …` header, or UNAUTHENTICATED saying what to do. */
export async function authenticate(q: Queryable, adminToken: string, header: string | undefined): Promise<Principal> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) throw new UnauthenticatedError("no bearer token; pass one with 'Authorization: Bearer <token>' (the CLI: SQUADRON_TOKEN or 'squadron login --token T')");
  const token = m[1]!;
  if (sameToken(token, adminToken)) return { kind: 'admin', name: 'admin' };
  const rows = await q.query<{ name: string }>('SELECT name FROM squads WHERE token_hash = $1', [hashToken(token)]);
  if (rows[0]) return { kind: 'squad', name: rows[0].name };
  throw new UnauthenticatedError('the token is not valid on this platform; ask for a new one (squadron squads create) or log in again');
}

/** Only the admin, or the squad that owns the thing, may change it. */
export function mustOwn(p: Principal, owner: string, what: string): void {
  if (p.kind === 'admin' || p.name === owner) return;
  throw new ForbiddenError(`${what} belongs to squad '${owner}'; only that squad may change it (you are squad '${p.name}')`);
}

export function mustBeAdmin(p: Principal, what: string): void {
  if (p.kind !== 'admin') throw new ForbiddenError(`only the platform admin may ${what}`);
}
