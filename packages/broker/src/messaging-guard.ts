import type { Logger } from 'pino';
import { ADMIN_SQUAD, callerKey, type Caller, type Decision, type MessagingPermission, type Policies } from '@squadron/policy';
import type { VerifiedPeer } from '@squadron/identity';

/** What the broker refused, per caller and what it asked for. */
export interface RefusalStats {
  caller: string;
  permission: MessagingPermission;
  kind: 'topic' | 'queue';
  name: string;
  refused: number;
}

/**
 * The broker's side of the access policies: who may publish to, subscribe to and consume which
 * topics and queues. It judges only connections whose credential it verified (a broker that
 * checks no identities has nobody to judge), and never other brokers, which act for callers
 * their own site judged already.
 */
export class MessagingGuard {
  private policies: Policies | null = null;
  private readonly refusals = new Map<string, RefusalStats>();

  constructor(private readonly log: Logger) {}

  /** Returns whether the set changed. */
  set(policies: Policies): boolean {
    if (this.policies?.version === policies.version) return false;
    this.policies = policies;
    return true;
  }

  /** Who a connection acts for, when it is to be judged at all. */
  callerOf(peer: VerifiedPeer | null): Caller | null {
    if (peer === null || peer.role === 'broker') return null;
    return { service: peer.role === 'instance' ? peer.service ?? null : null, squad: peer.squad };
  }

  /** `count`: false to look again at what was refused already (a parked subscription), without counting it twice. */
  check(caller: Caller | null, permission: MessagingPermission, kind: 'topic' | 'queue', name: string, count = true): Decision {
    if (caller === null || this.policies === null) return ALLOWED;
    const decision = this.policies.messaging(caller, permission, kind, name);
    if (!decision.ok && count) this.count(callerKey(caller), permission, kind, name, decision.reason);
    return decision;
  }

  /** May `caller` make a durable subscription for `group` on `topic`? Only as that group's own service. */
  checkDurable(caller: Caller | null, topic: string, group: string): Decision {
    if (caller === null || this.policies === null) return ALLOWED;
    const decision = this.policies.durableSubscription(caller, topic, group);
    if (!decision.ok) this.count(callerKey(caller), 'subscribe', 'queue', `${group}@${topic}`, decision.reason);
    return decision;
  }

  /**
   * May `caller` read a queue's dead letters and replay them? The squad that owns the queue
   * and the admin; a queue nobody claimed, the admin alone (as the API answers).
   */
  checkInspect(caller: Caller | null, queue: string): Decision {
    if (caller === null || this.policies === null || caller.squad === ADMIN_SQUAD) return ALLOWED;
    const owner = this.policies.ownerOf('queue', queue);
    if (owner === null) {
      return { ok: false, reason: `queue '${queue}' has no owner: only the admin may read its dead letters or replay them`, policy: `queue ${queue}: no owner` };
    }
    if (owner.squad === caller.squad) return ALLOWED;
    return {
      ok: false,
      reason: `queue '${queue}' belongs to ${owner.service}${owner.squad ? ` (squad '${owner.squad}')` : ''}: only its squad and the admin may read its dead letters or replay them`,
      policy: `queue ${queue}: owner squad`,
    };
  }

  /** Whether `name` is a service the policies know (a group of that name is its alone). */
  isService(name: string): boolean {
    return this.policies?.service(name) !== undefined;
  }

  stats(): RefusalStats[] {
    return [...this.refusals.values()];
  }

  private count(caller: string, permission: MessagingPermission, kind: 'topic' | 'queue', name: string, reason: string): void {
    const key = `${caller}\0${permission}\0${kind}\0${name}`;
    const entry = this.refusals.get(key);
    if (entry) {
      entry.refused++;
      return;
    }
    if (this.refusals.size >= 10_000) return; // counted no further; the first refusals are logged
    this.refusals.set(key, { caller, permission, kind, name, refused: 1 });
    // Named by its kind: the broker's logger binds `name` (itself), and a line holds each key once.
    this.log.warn({ caller, permission, [kind]: name }, `refused: ${reason}`);
  }
}

const ALLOWED: Decision = { ok: true, limit: null };
