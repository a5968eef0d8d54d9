import type { Logger } from 'pino';
import type { ChangesPage, RemoteWrite } from './changes.ts';
import type { KvStore } from './store.ts';

/** A peer's change log as the puller sees it (`from` names the puller, so the peer counts it as acknowledged). */
export interface ChangesReply extends ChangesPage {
  site: string;
}

export interface SnapshotReply {
  site: string;
  storeId: string;
  writes: RemoteWrite[];
  next: { namespace: string; key: string } | null;
}

/** How a site reaches one peer; the HTTP one is `HttpPeerLink`. */
export interface PeerLink {
  readonly site: string;
  /** Where it is, for status (a URL). */
  readonly address: string;
  changes(since: number, limit: number, from: string): Promise<ChangesReply>;
  snapshot(after: { namespace: string; key: string } | null, limit: number): Promise<SnapshotReply>;
  /** Tell the peer this site has new writes, so it pulls now rather than at its next poll. */
  wake(from: string): Promise<void>;
}

/** One peer, as `/stats` and `squadron storage show` report it. */
export interface PeerStatus {
  site: string;
  address: string;
  reachable: boolean;
  /** The last sequence of the peer's log applied here. */
  appliedSeq: number;
  /** The peer's log head at the last pull. */
  peerHead: number | null;
  /** This site has everything the peer had this many ms ago (null: never caught up yet). */
  lagMs: number | null;
  lastError: string | null;
}

export interface ReplicatorOptions {
  store: KvStore;
  peers: PeerLink[];
  /** Pull each peer this often, besides when it wakes us (default 150 ms). */
  intervalMs?: number;
  /** Changes per pull (default 500). */
  batch?: number;
  /**
   * How long a peer may go unanswered before it is worth a warning (default 5 s). A shorter
   * absence is the platform at work: a peer started after this site, stopping with it, restarting.
   */
  warnAfterMs?: number;
  log?: Logger;
}

interface Peer {
  link: PeerLink;
  head: number | null;
  caughtUpAt: number | null;
  reachable: boolean;
  lastError: string | null;
  /** Since when its pulls fail (null while they succeed), and whether that was warned of. */
  failingSince: number | null;
  warned: boolean;
  /** A wake came in (or a write is pending) since the current pull started: pull again at once. */
  wakeRequested: boolean;
  sleeper: (() => void) | null;
  /** Outgoing wake in flight, and whether another write came meanwhile. */
  waking: boolean;
  wakeAgain: boolean;
  /** The sequence it last asked beyond: everything up to it is applied there. */
  acked: number | null;
  loop: Promise<void> | null;
}

/**
 * Asynchronous replication between a resource's sites: each site pulls every other site's log
 * of its own writes, from the last sequence it applied, every `intervalMs` and at once when a
 * peer says it has news. Each pulled write is applied under the conflict rule (store.apply).
 * A peer whose log no longer reaches back far enough is merged from a snapshot instead.
 */
export class Replicator {
  private readonly store: KvStore;
  private readonly intervalMs: number;
  private readonly batch: number;
  private readonly warnAfterMs: number;
  private readonly log: Logger | undefined;
  private peers = new Map<string, Peer>();
  private running = false;

  constructor(options: ReplicatorOptions) {
    this.store = options.store;
    this.intervalMs = options.intervalMs ?? 150;
    this.batch = options.batch ?? 500;
    this.warnAfterMs = options.warnAfterMs ?? 5_000;
    this.log = options.log;
    for (const link of options.peers) this.peers.set(link.site, newPeer(link));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const p of this.peers.values()) p.loop = this.run(p);
  }

  /** Stop pulling; resolves once every pull in flight has settled. */
  async stop(): Promise<void> {
    this.running = false;
    for (const p of this.peers.values()) p.sleeper?.();
    await Promise.all([...this.peers.values()].map((p) => p.loop));
  }

  /** A peer has news (or any peer, with no site): pull from it now. */
  wake(site?: string): void {
    for (const p of this.peers.values()) {
      if (site !== undefined && p.link.site !== site) continue;
      p.wakeRequested = true;
      p.sleeper?.();
    }
  }

  /** A write was made here: tell every peer, one wake in flight per peer, another after it if more writes came. */
  notifyPeers(): void {
    for (const p of this.peers.values()) {
      if (p.waking) {
        p.wakeAgain = true;
        continue;
      }
      p.waking = true;
      const send = (): void => {
        p.wakeAgain = false;
        p.link.wake(this.store.site).catch(() => {
          // The peer's own poll picks the write up; a wake only makes it sooner.
        }).finally(() => {
          if (p.wakeAgain && this.running) send();
          else p.waking = false;
        });
      };
      send();
    }
  }

  /** A peer pulled from this site beyond `since`: everything up to it is applied there. */
  recordAck(site: string, since: number): void {
    const p = this.peers.get(site);
    // Beyond the head, the peer is asking about an earlier log of this site (it was rebuilt): no ack.
    if (p && since <= this.store.head()) p.acked = since;
  }

  /** The lowest sequence of this site's log every peer has applied; changes up to it may go. */
  ackedThrough(): number {
    let min = this.store.head();
    for (const p of this.peers.values()) {
      if (p.acked === null) return 0;
      min = Math.min(min, p.acked);
    }
    return min;
  }

  status(): PeerStatus[] {
    const now = Date.now();
    return [...this.peers.values()].map((p) => ({
      site: p.link.site,
      address: p.link.address,
      reachable: p.reachable,
      appliedSeq: this.store.cursorOf(p.link.site).seq,
      peerHead: p.head,
      lagMs: p.caughtUpAt === null ? null : Math.max(0, now - p.caughtUpAt),
      lastError: p.lastError,
    }));
  }

  private async run(p: Peer): Promise<void> {
    while (this.running) {
      p.wakeRequested = false;
      let again = false;
      try {
        again = await this.pull(p);
        p.reachable = true;
        p.lastError = null;
        p.failingSince = null;
        p.warned = false;
      } catch (err) {
        this.failed(p, (err as Error).message);
      }
      if (!this.running) break;
      if (again || p.wakeRequested) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.intervalMs);
        function done(): void {
          clearTimeout(timer);
          p.sleeper = null;
          resolve();
        }
        p.sleeper = done;
      });
    }
  }

  /** A pull failed: said once when it starts failing, and warned of once it has failed a while. */
  private failed(p: Peer, error: string): void {
    const now = Date.now();
    if (p.failingSince === null) {
      p.failingSince = now;
      this.log?.info({ peer: p.link.site, error }, 'kv replication: cannot pull from peer; retrying');
    } else if (!p.warned && now - p.failingSince >= this.warnAfterMs) {
      p.warned = true;
      this.log?.warn({ peer: p.link.site, error, failingForMs: now - p.failingSince }, 'kv replication: cannot pull from peer; retrying');
    }
    p.reachable = false;
    p.lastError = error;
  }

  /** One pull; true when there is more to pull at once. */
  private async pull(p: Peer): Promise<boolean> {
    const started = Date.now();
    const site = p.link.site;
    const cursor = this.store.cursorOf(site);
    const page = await p.link.changes(cursor.seq, this.batch, this.store.site);
    if (page.site !== site) {
      throw new Error(`the peer at ${p.link.address} is site '${page.site}', not '${site}': fix the peers list of site '${this.store.site}'`);
    }
    p.head = page.head;
    if (cursor.storeId !== null && cursor.storeId !== page.storeId) {
      // The peer's file was rebuilt: its log starts again from 1.
      this.log?.info({ peer: site }, 'kv replication: peer has a new change log; starting over on it');
      this.store.resetCursor(site, page.storeId);
      return true;
    }
    if (page.truncated) {
      await this.merge(p, page);
      return true;
    }
    const last = page.changes[page.changes.length - 1];
    this.store.apply(page.changes, { site, storeId: page.storeId, seq: last?.seq ?? cursor.seq });
    if (last && last.seq < page.head) return true;
    p.caughtUpAt = started;
    return false;
  }

  /** The peer's log starts after our cursor: merge its whole state, then follow its log from the head seen. */
  private async merge(p: Peer, page: ChangesReply): Promise<void> {
    this.log?.warn({ peer: p.link.site }, 'kv replication: peer log no longer covers this site\'s cursor; merging a snapshot');
    let after: SnapshotReply['next'] = null;
    do {
      const snap = await p.link.snapshot(after, this.batch);
      if (snap.storeId !== page.storeId) throw new Error(`site '${p.link.site}' changed its store during a snapshot; starting again`);
      this.store.apply(snap.writes);
      after = snap.next;
    } while (after !== null && this.running);
    if (this.running) this.store.apply([], { site: p.link.site, storeId: page.storeId, seq: page.head });
  }
}

function newPeer(link: PeerLink): Peer {
  return {
    link, head: null, caughtUpAt: null, reachable: false, lastError: null, failingSince: null, warned: false, wakeRequested: false,
    sleeper: null, waking: false, wakeAgain: false, acked: null, loop: null,
  };
}
