import {
  ADMIN_SQUAD, type Caller, type DenyRule, type GrantRule, type MessagingPermission, type PolicySet, type RateLimit, type ServicePolicy,
} from './policy-set.ts';

/** Let in; `limit` is the pair's rate limit, or null when the pair is not limited. */
export interface Allowed {
  ok: true;
  limit: RateLimit | null;
}

/** Refused: why, and which policy said so (for the PERMISSION_DENIED the caller gets). */
export interface Refused {
  ok: false;
  reason: string;
  policy: string;
}

export type Decision = Allowed | Refused;

const UNLIMITED: Allowed = { ok: true, limit: null };

/**
 * The one reading of a policy set that callees, callers and brokers share, so that a caller's
 * fail-fast mirror and the callee can never disagree. The order of the checks is the policy:
 * the platform's admin first; then any deny rule (deny wins over allow); then the owner squad;
 * then grants; then, for calls only, an open service's default threshold.
 */
export class Policies {
  /** Topic or queue name → the service that owns it: one owner each, the first to claim it. */
  private readonly topicOwners = new Map<string, string>();
  private readonly queueOwners = new Map<string, string>();

  constructor(readonly set: PolicySet) {
    for (const [service, p] of Object.entries(set.services)) {
      // The control plane records one owner per name; should a set ever list two, the first keeps it.
      for (const t of p.topics) if (!this.topicOwners.has(t)) this.topicOwners.set(t, service);
      for (const q of p.queues) if (!this.queueOwners.has(q)) this.queueOwners.set(q, service);
    }
  }

  get version(): string {
    return this.set.version;
  }

  /** May `caller` call `method` of `service`, and at what rate? */
  call(caller: Caller, service: string, method: string): Decision {
    if (caller.squad === ADMIN_SQUAD) return UNLIMITED;
    const p = this.set.services[service];
    // A service the control plane does not know (run by hand, outside the catalog): the default only.
    if (p === undefined) return caller.service === service ? UNLIMITED : { ok: true, limit: this.set.defaultRate };
    const deny = p.denies.find((d) => names(d.caller, caller) && (d.methods === null || d.methods.includes(method)));
    if (deny) return refused(`${who(caller)} is denied ${deny.methods === null ? 'everything' : `'${method}'`} on ${service}`, denyPolicy(deny, service));
    const grant = bestGrant(p.grants, caller, (g) => g.methods === null || g.methods.includes(method));
    // The owner squad's own services call each other freely, unless a grant sets a limit.
    if (caller.squad === p.squad) return { ok: true, limit: grant?.rate ?? null };
    if (grant) return { ok: true, limit: grant.rate ?? this.set.defaultRate };
    if (p.access === 'open') return { ok: true, limit: this.set.defaultRate };
    return refused(
      `${service} is restricted and ${who(caller)} has no grant for '${method}'; squad '${p.squad}' can grant one: squadron grant ${grantName(caller)} ${service} --methods ${method}`,
      `access ${service} restricted`,
    );
  }

  /**
   * May `caller` publish to, subscribe to or consume `name`? Topics and queues belong to the
   * service that claimed them first (publishes, consumers); nobody's are free to all. The queue
   * behind a durable subscription (`SERVICE@TOPIC`) is SERVICE's alone: only the broker's
   * fan-out writes into it, and only SERVICE consumes it.
   */
  messaging(caller: Caller, permission: MessagingPermission, kind: 'topic' | 'queue', name: string): Decision {
    if (caller.squad === ADMIN_SQUAD) return UNLIMITED;
    if (kind === 'queue') {
      const group = durableGroupOf(name);
      if (group !== null) return this.durableQueue(caller, permission, name, group);
    }
    const service = (kind === 'topic' ? this.topicOwners : this.queueOwners).get(name);
    if (service === undefined) return UNLIMITED;
    const p = this.set.services[service]!;
    const deny = p.denies.find((d) => d.methods === null && names(d.caller, caller));
    if (deny) return refused(`${who(caller)} is denied everything on ${service}, which owns ${kind} '${name}'`, denyPolicy(deny, service));
    if (caller.squad === p.squad) return UNLIMITED;
    if (bestGrant(p.grants, caller, (g) => g[permission].includes(name))) return UNLIMITED;
    return refused(
      `${kind} '${name}' belongs to ${service} (squad '${p.squad}'): ${who(caller)} may not ${permission} ${permission === 'subscribe' ? 'to it' : permission === 'publish' ? (kind === 'queue' ? 'to it (enqueue)' : 'to it') : 'it'} without a grant; squad '${p.squad}' can grant it: squadron grant ${grantName(caller)} ${service} --${permission} ${name}`,
      `${permission} ${kind} ${name}: owner squad ${p.squad} and grants`,
    );
  }

  /** May `caller` make a durable subscription for `group` (the queue `group@topic`)? Only the group's own service. */
  durableSubscription(caller: Caller, topic: string, group: string): Decision {
    if (caller.squad === ADMIN_SQUAD) return UNLIMITED;
    if (caller.service === group) return this.messaging(caller, 'subscribe', 'topic', topic);
    return refused(
      `a durable subscription is kept for the service that makes it: ${who(caller)} may not make one for '${group}'`,
      `durable subscription ${group}@${topic}: its own service only`,
    );
  }

  /**
   * Who owns a topic or queue: its service and squad, or null when nobody has claimed it (then
   * it is open to all). The queue of a durable subscription belongs to its group's service.
   */
  ownerOf(kind: 'topic' | 'queue', name: string): { service: string; squad: string | null } | null {
    const service = (kind === 'queue' ? durableGroupOf(name) : null) ?? (kind === 'topic' ? this.topicOwners : this.queueOwners).get(name);
    if (service === undefined) return null;
    return { service, squad: this.set.services[service]?.squad ?? null };
  }

  private durableQueue(caller: Caller, permission: MessagingPermission, name: string, group: string): Decision {
    if (permission === 'publish') {
      return refused(`queue '${name}' keeps the durable publishes of a topic for ${group}: only the broker writes into it; publish to the topic instead`, `durable subscription queue ${name}`);
    }
    if (caller.service === group) return UNLIMITED;
    return refused(`queue '${name}' is the durable subscription of service '${group}': only ${group} may ${permission} it`, `durable subscription queue ${name}`);
  }

  /** A service's policy, if the control plane knows the service. */
  service(name: string): ServicePolicy | undefined {
    return this.set.services[name];
  }
}

/** The service of a durable subscription's queue (`SERVICE@TOPIC`), or null for any other queue. */
export function durableGroupOf(queue: string): string | null {
  const at = queue.indexOf('@');
  return at > 0 ? queue.slice(0, at) : null;
}

/** Whether a rule's caller names this caller: its service, or its whole squad. */
function names(ruleCaller: string, caller: Caller): boolean {
  return ruleCaller === `squad:${caller.squad}` || (caller.service !== null && ruleCaller === caller.service);
}

/** The grant that applies: one naming the caller's service wins over one naming its squad. */
function bestGrant(grants: GrantRule[], caller: Caller, covers: (g: GrantRule) => boolean): GrantRule | undefined {
  let squadWide: GrantRule | undefined;
  for (const g of grants) {
    if (!covers(g)) continue;
    if (caller.service !== null && g.caller === caller.service) return g;
    if (g.caller === `squad:${caller.squad}`) squadWide ??= g;
  }
  return squadWide;
}

function who(caller: Caller): string {
  return caller.service !== null ? `service '${caller.service}' (squad '${caller.squad}')` : `squad '${caller.squad}'`;
}

function grantName(caller: Caller): string {
  return caller.service ?? `squad:${caller.squad}`;
}

function denyPolicy(deny: DenyRule, service: string): string {
  return `deny ${deny.caller} on ${service}${deny.methods === null ? '' : ` --methods ${deny.methods.join(',')}`}`;
}

function refused(reason: string, policy: string): Refused {
  return { ok: false, reason, policy };
}
