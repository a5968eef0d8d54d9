import type { Connection } from '@squadron/transport';
import { FrameKind } from '@squadron/protocol';

interface Member {
  conn: Connection;
  sid: number;
}

/** The instances that share one subscription: each message goes to exactly one of them. */
class Group {
  readonly members: Member[] = [];
  private next = 0;
  delivered = 0;
  dropped = 0;

  constructor(readonly topic: string, readonly name: string) {}

  /**
   * Hand the message to the next member that is keeping up. A member whose unread bytes pass the
   * cap is skipped; when all are behind, the message is dropped and counted (at-most-once).
   */
  deliver(body: Buffer, maxBacklog: number): boolean {
    const n = this.members.length;
    for (let tries = 0; tries < n; tries++) {
      const member = this.members[this.next++ % n]!;
      if (member.conn.backlog <= maxBacklog) {
        // A Message carries the publish's envelope as it came: one copy, nothing re-encoded.
        member.conn.send(FrameKind.Message, member.sid, body);
        this.delivered++;
        return true;
      }
    }
    this.dropped++;
    return false;
  }
}

/** Sends a publish to another site's broker, for one of its groups. */
export interface Forwarder {
  forward(site: string, group: string, body: Buffer): boolean;
  /** No site could take a publish for this group: it is dropped, and counted against `site`. */
  undeliverable(site: string, group: string): void;
}

export interface SubscriptionStats {
  topic: string;
  group: string;
  members: number;
  delivered: number;
  dropped: number;
}

/** Topic → subscription groups in this site, and which other sites have which groups. */
export class TopicTable {
  private readonly local = new Map<string, Map<string, Group>>();
  /** topic → group → sites that have members of it */
  private readonly remote = new Map<string, Map<string, Set<string>>>();
  private readonly bySession = new Map<Connection, Map<number, Group>>();
  /** Counters outlive their groups so that status can still show drops. */
  private readonly retired: SubscriptionStats[] = [];

  constructor(private readonly maxSubscriberBacklog: number) {}

  /** Returns true when the group is new in this site (its interest must be announced). */
  subscribe(conn: Connection, sid: number, topic: string, groupName: string): boolean {
    let groups = this.local.get(topic);
    if (!groups) this.local.set(topic, (groups = new Map()));
    let group = groups.get(groupName);
    const created = group === undefined;
    if (!group) groups.set(groupName, (group = new Group(topic, groupName)));
    let sids = this.bySession.get(conn);
    if (!sids) this.bySession.set(conn, (sids = new Map()));
    if (sids.has(sid)) this.unsubscribe(conn, sid);
    group.members.push({ conn, sid });
    sids.set(sid, group);
    return created;
  }

  /** Returns the group when its last member in this site left (its interest must be withdrawn). */
  unsubscribe(conn: Connection, sid: number): Group | null {
    const sids = this.bySession.get(conn);
    const group = sids?.get(sid);
    if (!sids || !group) return null;
    sids.delete(sid);
    const i = group.members.findIndex((m) => m.conn === conn && m.sid === sid);
    if (i >= 0) group.members.splice(i, 1);
    if (group.members.length > 0) return null;
    const groups = this.local.get(group.topic)!;
    groups.delete(group.name);
    if (groups.size === 0) this.local.delete(group.topic);
    this.retired.push({ topic: group.topic, group: group.name, members: 0, delivered: group.delivered, dropped: group.dropped });
    if (this.retired.length > 1000) this.retired.shift();
    return group;
  }

  /** The connections that are members of a group of this site now. */
  membersOf(topic: string, group: string): Connection[] {
    return this.local.get(topic)?.get(group)?.members.map((m) => m.conn) ?? [];
  }

  /** How many subscriptions a connection holds. */
  countOf(conn: Connection): number {
    return this.bySession.get(conn)?.size ?? 0;
  }

  /** The topic and group of one of a connection's subscriptions, or null when it holds no such id. */
  subscriptionOf(conn: Connection, sid: number): { topic: string; group: string } | null {
    const g = this.bySession.get(conn)?.get(sid);
    return g ? { topic: g.topic, group: g.name } : null;
  }

  /** A connection's subscriptions: its subscription ids and their topics and groups. */
  subscriptionsOf(conn: Connection): Array<{ sid: number; topic: string; group: string }> {
    return [...(this.bySession.get(conn) ?? [])].map(([sid, g]) => ({ sid, topic: g.topic, group: g.name }));
  }

  /** Every group that lost its last member because this connection closed. */
  removeConnection(conn: Connection): Group[] {
    const sids = this.bySession.get(conn);
    if (!sids) return [];
    const gone: Group[] = [];
    for (const sid of [...sids.keys()]) {
      const g = this.unsubscribe(conn, sid);
      if (g) gone.push(g);
    }
    this.bySession.delete(conn);
    return gone;
  }

  setRemoteInterest(site: string, topic: string, group: string, present: boolean): void {
    let groups = this.remote.get(topic);
    if (present) {
      if (!groups) this.remote.set(topic, (groups = new Map()));
      let sites = groups.get(group);
      if (!sites) groups.set(group, (sites = new Set()));
      sites.add(site);
      return;
    }
    const sites = groups?.get(group);
    if (!groups || !sites) return;
    sites.delete(site);
    if (sites.size === 0) groups.delete(group);
    if (groups.size === 0) this.remote.delete(topic);
  }

  dropRemoteSite(site: string): void {
    for (const [topic, groups] of this.remote) {
      for (const [group, sites] of groups) {
        sites.delete(site);
        if (sites.size === 0) groups.delete(group);
      }
      if (groups.size === 0) this.remote.delete(topic);
    }
  }

  localGroups(): Array<{ topic: string; group: string }> {
    const out: Array<{ topic: string; group: string }> = [];
    for (const [topic, groups] of this.local) for (const group of groups.keys()) out.push({ topic, group });
    return out;
  }

  /**
   * Deliver a publish to every group: a group with members here gets it here; a group that lives
   * only in other sites gets it through `forward`, to the first such site in `siteOrder`.
   */
  publish(body: Buffer, topic: string, siteOrder: readonly string[], forwarder: Forwarder): void {
    const local = this.local.get(topic);
    if (local) for (const group of local.values()) group.deliver(body, this.maxSubscriberBacklog);
    const remote = this.remote.get(topic);
    if (!remote) return;
    for (const [group, sites] of remote) {
      if (local?.has(group)) continue;
      let first: string | null = null;
      let sent = false;
      for (const site of siteOrder) {
        if (!sites.has(site)) continue;
        first ??= site;
        if ((sent = forwarder.forward(site, group, body))) break;
      }
      if (!sent && first !== null) forwarder.undeliverable(first, group);
    }
  }

  /** A publish forwarded from another site, for one group: deliver here only. */
  deliverForwarded(body: Buffer, topic: string, group: string): boolean {
    const g = this.local.get(topic)?.get(group);
    return g ? g.deliver(body, this.maxSubscriberBacklog) : false;
  }

  stats(): SubscriptionStats[] {
    const out: SubscriptionStats[] = [];
    for (const groups of this.local.values()) {
      for (const g of groups.values()) out.push({ topic: g.topic, group: g.name, members: g.members.length, delivered: g.delivered, dropped: g.dropped });
    }
    return out.concat(this.retired);
  }
}
