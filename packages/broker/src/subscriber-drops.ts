import type { Connection } from '@squadron/transport';
import type { DropReport } from '@squadron/protocol';

/** Messages one subscriber dropped itself (its handler behind, its queue full), as it last said. */
export interface SubscriberDropStats {
  /** The instance id of a service's instance, or the name a client connected with. */
  subscriber: string;
  topic: string;
  group: string;
  dropped: number;
}

/** How many ended subscriptions' counts are kept, the oldest forgotten first. */
const KEPT_ENDED = 1000;

/**
 * What subscribers say they dropped. The broker hands a subscriber each message once it reads its
 * socket; whether the handler got to it only the subscriber's SDK knows, and it reports its counts
 * (Drops frames), each since the subscription began in that process. A report counts only for
 * subscriptions the connection holds here. One subscriber's subscription keeps one row across its
 * reconnects (the counts are cumulative), and the row outlives it (bounded), as the groups' own
 * counters do, so that `squadron status` still shows a subscriber that fell behind and left.
 */
export class SubscriberDrops {
  /** subscriber, topic, group → its last count */
  private readonly counts = new Map<string, SubscriberDropStats>();
  /** Each connection's subscriptions that reported: subscription id → row key. */
  private readonly live = new Map<Connection, Map<number, string>>();
  /** Rows whose subscription ended, oldest first. */
  private readonly ended: string[] = [];

  /** Take a connection's report; `subscriptionOf` says which of its ids it holds here. */
  report(conn: Connection, subscriber: string, report: DropReport, subscriptionOf: (sid: number) => { topic: string; group: string } | null): void {
    for (const [sid, dropped] of report) {
      const sub = subscriptionOf(sid);
      if (sub === null || dropped === 0) continue;
      const key = `${subscriber}\u0000${sub.topic}\u0000${sub.group}`;
      this.counts.set(key, { subscriber, topic: sub.topic, group: sub.group, dropped });
      let mine = this.live.get(conn);
      if (!mine) this.live.set(conn, (mine = new Map()));
      mine.set(sid, key);
    }
  }

  /** A subscription ended: its row is kept among the ended ones. */
  end(conn: Connection, sid: number): void {
    const mine = this.live.get(conn);
    const key = mine?.get(sid);
    if (!mine || key === undefined) return;
    mine.delete(sid);
    if (mine.size === 0) this.live.delete(conn);
    this.ended.push(key);
    while (this.ended.length > KEPT_ENDED) {
      const oldest = this.ended.shift()!;
      if (!this.isLive(oldest) && !this.ended.includes(oldest)) this.counts.delete(oldest);
    }
  }

  /** A connection closed: each of its subscriptions ended. */
  endConnection(conn: Connection): void {
    for (const sid of [...(this.live.get(conn)?.keys() ?? [])]) this.end(conn, sid);
  }

  stats(): SubscriberDropStats[] {
    return [...this.counts.values()];
  }

  private isLive(key: string): boolean {
    for (const mine of this.live.values()) for (const k of mine.values()) if (k === key) return true;
    return false;
  }
}
