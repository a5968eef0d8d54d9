import type { Logger } from 'pino';
import { FrameKind, decode, asRegistryEvent, asInterest, encodeEnvelopeField } from '@squadron/protocol';
import { Backoff, Connection, connectHandshake, dial, sendReauth, type AuthSource } from '@squadron/transport';
import type { Identity } from '@squadron/identity';
import type { Registry } from './registry.ts';
import type { TopicTable } from './pubsub.ts';


/**
 * This broker's link to another site's broker. Over it this side learns the other site's
 * instances and subscription groups, and forwards publishes for groups that live only there.
 * It reconnects with backoff; while it is down, that site's instances are out of this site's view.
 */
export class PeerLink {
  private conn: Connection | null = null;
  private stopped = false;
  private readonly backoff = new Backoff(100, 5000);
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastSeen = 0;
  private unrenew: (() => void) | null = null;
  /** Why the other broker said it closes the link on purpose (it is stopping), until the link is lost. */
  private leaving: string | null = null;
  forwarded = 0;
  /** Publishes for the other site's groups that could not be sent: link down or backed up. */
  dropped = 0;

  constructor(
    readonly site: string,
    readonly address: string,
    private readonly localSite: string,
    private readonly registry: Registry,
    private readonly topics: TopicTable,
    private readonly log: Logger,
    private readonly heartbeatMs = 1000,
    /** Unread bytes toward the other site past which its publishes are dropped and counted. */
    private readonly maxBacklogBytes = 4 * 1024 * 1024,
    /** This broker's identity, proven to the other site's broker when identities are checked. */
    private readonly identity?: Identity,
  ) {}

  get up(): boolean {
    return this.conn !== null && !this.conn.closed;
  }

  start(): void {
    // A renewed credential is proven on the open link, so the other broker keeps it past expiry.
    this.unrenew = this.identity?.onRenew(() => {
      if (this.conn) sendReauth(this.conn, this.auth());
    }) ?? null;
    void this.connect();
  }

  /** What this side says in its handshake: the broker, with its credential when it has one. */
  private auth(): AuthSource {
    const claims = { role: 'broker' as const, site: this.localSite, name: `broker:${this.localSite}` };
    const identity = this.identity;
    return identity ? (hello) => ({ ...claims, ...identity.prove(hello.nonce) }) : claims;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.conn?.close('CLOSED', 'broker stopping');
    this.unrenew?.();
  }

  /** Send one publish to the other site for one of its groups. False when the link is down. */
  forward(topic: string, traceId: string, group: string, payload: Uint8Array): boolean {
    const conn = this.conn;
    if (!conn || conn.closed || conn.backlog > this.maxBacklogBytes) return false;
    conn.sendEnvelope(FrameKind.Forward, 0, encodeEnvelopeField(topic), traceId, encodeEnvelopeField(group), payload);
    this.forwarded++;
    return true;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    try {
      const socket = await dial(this.address);
      const conn = new Connection(socket);
      await connectHandshake(conn, this.auth());
      if (this.stopped) {
        conn.close();
        return;
      }
      this.conn = conn;
      this.backoff.reset();
      this.lastSeen = Date.now();
      conn.onFrame = (kind, _id, body) => {
        this.lastSeen = Date.now();
        this.onFrame(kind, body);
      };
      conn.onClose((err) => this.lost(err.message));
      this.heartbeat ??= setInterval(() => this.beat(), this.heartbeatMs);
      this.heartbeat.unref();
      conn.sendValue(FrameKind.Watch, 1, null);
      this.log.info({ peer: this.site, address: this.address }, 'linked to peer site broker');
    } catch (err) {
      this.retry((err as Error).message);
    }
  }

  private onFrame(kind: number, body: Buffer): void {
    switch (kind) {
      case FrameKind.RegistryEvent: {
        const ev = asRegistryEvent(decode(body));
        if (ev.type === 'snapshot') this.registry.replaceRemote(this.site, ev.instances);
        else if (ev.type === 'up' && ev.instance.site === this.site) this.registry.addRemote(ev.instance);
        else if (ev.type === 'down') this.registry.removeRemote(this.site, ev.id, ev.reason);
        return;
      }
      case FrameKind.Interest: {
        const i = asInterest(decode(body));
        this.topics.setRemoteInterest(this.site, i.topic, i.group, i.present);
        return;
      }
      case FrameKind.Ping:
        this.conn?.send(FrameKind.Pong, 0);
        return;
      case FrameKind.Goaway: {
        // CLOSED: the other broker ends the link on purpose (it stops), which is no fault.
        const [code, message] = decode(body) as [unknown, unknown];
        if (code === 'CLOSED') this.leaving = typeof message === 'string' ? message : 'closed';
        return;
      }
      default:
        return;
    }
  }

  /** Ping the other broker; one silent for three beats is hung: drop the link and reconnect. */
  private beat(): void {
    const conn = this.conn;
    if (!conn || conn.closed) return;
    const silentMs = Date.now() - this.lastSeen;
    if (silentMs > 3 * this.heartbeatMs) conn.destroy(new Error(`no frame from the ${this.site} broker for ${silentMs} ms`));
    else conn.send(FrameKind.Ping, 0);
  }

  private lost(reason: string): void {
    const left = this.leaving;
    this.leaving = null;
    this.conn = null;
    this.registry.dropRemoteSite(this.site, `link to ${this.site} lost: ${reason}`);
    this.topics.dropRemoteSite(this.site);
    if (left !== null && !this.stopped) this.log.info({ peer: this.site, reason: left }, 'peer site broker left; linking again once it is back');
    this.retry(reason, left !== null);
  }

  /** `left`: the other broker said it was going; only a long absence is worth a warning then. */
  private retry(reason: string, left = false): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    if ((this.backoff.attempts === 1 && !left) || this.backoff.attempts % 10 === 0) this.log.warn({ peer: this.site, reason, retryInMs: delay }, 'peer site broker unreachable');
    this.timer = setTimeout(() => void this.connect(), delay);
    this.timer.unref();
  }
}
