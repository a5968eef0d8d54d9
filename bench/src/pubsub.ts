// The pub/sub halves every system shares, so that Squadron and nats.js are paced and counted by
// the same code. The parent drives phases (warm-up, then measured) over IPC; see suites.ts.
import { onMessage, send } from './child.ts';
import type { ToChild } from './ipc.ts';

export interface PublisherApi {
  publish(): void;
  /** The system's own pacing primitive: a round trip to the server (Squadron's broker, nats-server). */
  flush(): Promise<void>;
  /** Publishes the client refused locally so far (0 if it keeps no such count). */
  refused(): number;
}

/** Answer `publish` commands: send `count` messages, flushing every `flushEvery`, report times. */
export function servePublisher(api: PublisherApi): void {
  onMessage((msg: ToChild) => {
    if (msg.type !== 'publish') return;
    void (async () => {
      const refusedBefore = api.refused();
      const tFirst = performance.timeOrigin + performance.now();
      for (let i = 1; i <= msg.count; i++) {
        api.publish();
        if (i % msg.flushEvery === 0) await api.flush();
      }
      await api.flush();
      const tEnd = performance.timeOrigin + performance.now();
      send({ type: 'published', result: { sent: msg.count, refused: api.refused() - refusedBefore, tFirst, tEnd } });
    })().catch((err: unknown) => send({ type: 'error', message: String(err) }));
  });
}

/**
 * Counts deliveries. `hit()` is the whole per-message cost: a counter and one clock read. On a
 * `collect` command it reports as soon as the target is reached, or once the stream has been idle
 * for `idleMs` (messages were dropped), then starts a fresh count for the next phase.
 */
export class Collector {
  private count = 0;
  private first = 0;
  private last = 0;
  private target = Number.POSITIVE_INFINITY;
  private idleMs = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private collectStarted = 0;

  constructor(private readonly localDropped: () => number = () => 0) {
    onMessage((msg: ToChild) => {
      if (msg.type === 'collect') this.collect(msg.count, msg.idleMs);
    });
  }

  hit(): void {
    const now = performance.now();
    if (this.count === 0) this.first = now;
    this.last = now;
    if (++this.count === this.target) this.report();
  }

  private collect(count: number, idleMs: number): void {
    this.target = count;
    this.idleMs = idleMs;
    this.collectStarted = performance.now();
    if (this.count >= count) return this.report();
    this.idleTimer = setInterval(() => {
      const lastSeen = Math.max(this.last, this.collectStarted);
      if (performance.now() - lastSeen > this.idleMs) this.report();
    }, 20);
  }

  private report(): void {
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = null;
    const origin = performance.timeOrigin;
    send({
      type: 'received',
      result: { received: this.count, tFirst: origin + this.first, tLast: origin + this.last, localDropped: this.localDropped() },
    });
    this.count = 0;
    this.first = this.last = 0;
    this.target = Number.POSITIVE_INFINITY;
  }
}
