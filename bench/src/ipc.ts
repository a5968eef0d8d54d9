// Messages between the orchestrator and its child processes (Node's IPC channel). Children
// are started with one JSON config on argv and report back with these; the parent steers the
// multi-phase pub/sub runs with the `ToChild` ones.

/** What a request-reply client reports: raw numbers only, the parent summarises. */
export interface LoadResult {
  calls: number;
  errors: number;
  inFlight: number;
  elapsedMs: number;
  /** Per-call latency percentiles in microseconds. */
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
  /** Free text the scenario wants shown (e.g. which transport it ended up on). */
  note?: string;
}

/** What a publisher reports after a phase; times are epoch ms with sub-ms precision. */
export interface PublishResult {
  sent: number;
  /** Publishes the client itself refused (e.g. broker connection backed up). */
  refused: number;
  tFirst: number;
  tEnd: number;
}

/** What a subscriber reports after a phase. */
export interface ReceiveResult {
  received: number;
  tFirst: number;
  tLast: number;
  /** Drops the subscriber's own client counted (bounded local queue), if it keeps such a count. */
  localDropped: number;
}

export type FromChild =
  | { type: 'ready'; address?: string; note?: string }
  | { type: 'load'; result: LoadResult }
  | { type: 'published'; result: PublishResult }
  | { type: 'received'; result: ReceiveResult }
  /** Answer to `describe`: what the child saw from its side (e.g. a broker's drop counters). */
  | { type: 'described'; note: string }
  | { type: 'error'; message: string };

export type ToChild =
  /** Publisher: send `count` messages, flushing every `flushEvery`. */
  | { type: 'publish'; count: number; flushEvery: number }
  /** Subscriber: report once `count` messages arrived, or after `idleMs` without one; then reset. */
  | { type: 'collect'; count: number; idleMs: number }
  | { type: 'describe' }
  | { type: 'stop' };

/** Wall-clock ms with sub-ms precision, comparable across processes on one machine. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
