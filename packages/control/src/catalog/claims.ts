import type { ClaimBody, ServiceClaimsBody, ServiceInterfaceBody } from '@squadron/client';
import type { Queryable } from '../state/db.ts';
import { ForbiddenError } from '../control-errors.ts';
import type { Principal } from '../auth/principal.ts';
import { durableGroupOf } from '@squadron/policy';

/**
 * Topics and queues have one owner each: the service that claimed the name first (its code
 * declared it: `publishes` for a topic, `consumers` for a queue), recorded in the `claims`
 * table. A queue `SERVICE@TOPIC`, the one behind a durable subscription, is SERVICE's whatever
 * anyone declares. A later claim by a service of the same squad shares the squad's claim (the
 * first service stays the owner); one by another squad's service is refused: it grants nothing,
 * and the service shows why. The policy set lists each name under its owner only.
 */

export type ClaimKind = ClaimBody['kind'];

interface ClaimRow {
  kind: ClaimKind;
  name: string;
  service: string;
  squad: string;
}

/** Who holds a name: the service and its squad (null: the service a SERVICE@TOPIC queue names does not exist). */
interface Holder {
  service: string;
  squad: string | null;
}

/** What the platform knows that decides claims: every claim, and every service's squad. */
export interface ClaimFacts {
  claims: Map<string, ClaimRow>;
  squads: Map<string, string>;
}

const keyOf = (kind: ClaimKind, name: string) => `${kind}\u0000${name}`;

/** The service a durable subscription's queue belongs to (`SERVICE@TOPIC`), or null for another queue. */
function subscriberOf(kind: ClaimKind, name: string): string | null {
  return kind === 'queue' ? durableGroupOf(name) : null;
}

export async function loadClaimFacts(q: Queryable): Promise<ClaimFacts> {
  const claims = await q.query<ClaimRow>('SELECT kind, name, service, squad FROM claims');
  const services = await q.query<{ name: string; squad: string }>('SELECT name, squad FROM services');
  return { claims: new Map(claims.map((c) => [keyOf(c.kind, c.name), c])), squads: new Map(services.map((s) => [s.name, s.squad])) };
}

/** The squad that owns a topic or queue, or null when nobody does. */
export function ownerSquadOf(facts: ClaimFacts, kind: ClaimKind, name: string): string | null {
  return holderOf(facts, kind, name)?.squad ?? null;
}

function holderOf(facts: ClaimFacts, kind: ClaimKind, name: string): Holder | null {
  const subscriber = subscriberOf(kind, name);
  if (subscriber !== null) return { service: subscriber, squad: facts.squads.get(subscriber) ?? null };
  const row = facts.claims.get(keyOf(kind, name));
  return row ? { service: row.service, squad: row.squad } : null;
}

/** The topics (publishes) and queues (consumers) an interface declares. */
function declared(iface: ServiceInterfaceBody | null): ClaimBody[] {
  if (!iface) return [];
  return [
    ...[...new Set(iface.publishes ?? [])].map((name) => ({ kind: 'topic' as const, name })),
    ...[...new Set(iface.queues)].map((name) => ({ kind: 'queue' as const, name })),
  ];
}

/** Why a claim is refused, and what the squad can do instead. */
function refusal(service: string, c: ClaimBody, holder: Holder): string {
  const subscriber = subscriberOf(c.kind, c.name);
  if (subscriber !== null) {
    const owner = holder.squad === null ? `service '${subscriber}' (which does not exist)` : `service '${subscriber}' of squad '${holder.squad}'`;
    return `queue '${c.name}' is the queue of ${owner}'s durable subscription: only that service consumes it, so '${service}' gets no rights on it; consume a queue of your own instead`;
  }
  const permission = c.kind === 'topic' ? 'publish' : 'consume';
  return `${c.kind} '${c.name}' belongs to service '${holder.service}' of squad '${holder.squad}', which claimed it first: '${service}' gets no rights on it ` +
    `(its ${c.kind === 'topic' ? 'publishes' : 'consumer'} will be refused). Use a name of your own, or ask squad '${holder.squad}' for a grant: squadron grant ${service} ${holder.service} --${permission} ${c.name}`;
}

/** What a service holds, shares and was refused, from what its code declares and the claims. */
export function claimsView(facts: ClaimFacts, service: string, squad: string, iface: ServiceInterfaceBody | null): ServiceClaimsBody {
  const view: ServiceClaimsBody = { owned: [], shared: [], refused: [] };
  for (const row of facts.claims.values()) if (row.service === service) view.owned.push({ kind: row.kind, name: row.name });
  for (const c of declared(iface)) {
    const holder = holderOf(facts, c.kind, c.name);
    if (holder === null || holder.service === service) continue;
    if (holder.squad === squad) view.shared.push({ ...c, owner: holder.service });
    else view.refused.push({ ...c, owner: holder.service, ownerSquad: holder.squad, message: refusal(service, c, holder) });
  }
  view.owned.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  return view;
}

/**
 * Claim what `iface` declares for `service`, inside the caller's transaction: each name nobody
 * holds becomes the service's. Returns the names it took and the view after.
 */
export async function takeClaims(q: Queryable, service: string, squad: string, iface: ServiceInterfaceBody): Promise<{ taken: ClaimBody[]; view: ServiceClaimsBody }> {
  const facts = await loadClaimFacts(q);
  const taken: ClaimBody[] = [];
  for (const c of declared(iface)) {
    const holder = holderOf(facts, c.kind, c.name);
    if (holder !== null && (holder.service !== service || facts.claims.has(keyOf(c.kind, c.name)))) continue;
    await q.query('INSERT INTO claims (kind, name, service, squad, claimed_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [c.kind, c.name, service, squad, Date.now()]);
    facts.claims.set(keyOf(c.kind, c.name), { ...c, service, squad });
    taken.push(c);
  }
  return { taken, view: claimsView(facts, service, squad, iface) };
}

/** Only the squad that owns `queue` (or the admin) may `what`; anyone else gets FORBIDDEN saying who owns it. */
export async function mustOwnQueue(q: Queryable, by: Principal, queue: string, what: string): Promise<void> {
  if (by.kind === 'admin') return;
  const facts = await loadClaimFacts(q);
  const holder = holderOf(facts, 'queue', queue);
  if (holder !== null && holder.squad === by.name) return;
  if (holder === null) {
    throw new ForbiddenError(`queue '${queue}' has no owner, so only the platform admin may ${what}; a service owns a queue by consuming it first (consumers in its definition)`);
  }
  const owner = holder.squad === null ? `service '${holder.service}', which does not exist` : `service '${holder.service}' of squad '${holder.squad}'`;
  throw new ForbiddenError(`queue '${queue}' belongs to ${owner}; only that squad (or the admin) may ${what} (you are squad '${by.name}')`);
}
