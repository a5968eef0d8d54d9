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

/** What a durable producer reports: its measured enqueues, and how many messages it left in all. */
export interface EnqueueResult extends LoadResult {
  /** Messages acknowledged in all, warm-up included: what the consumer must drain. */
  total: number;
  /** Of those, the warm-up ones (consumed first and not timed). */
  warmup: number;
  /** True when the run hit its time cap before `calls` (then `calls` is what it completed). */
  capped: boolean;
}

/** What a durable consumer reports once it drained the queue. */
export interface ConsumeResult {
  /** Deliveries after the warm-up ones: the measured window. */
  measured: number;
  /** First measured delivery → last delivery. */
  elapsedMs: number;
  /** What the consumer checked on the server afterwards (nothing left unacknowledged...). */
  note: string;
}

/** Deploy to first call, per round: through `squadron deploy`, through the API, and `squadron run` by hand (the floor). */
export interface DeployResult {
  deployMs: number[];
  apiMs: number[];
  floorMs: number[];
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

/** Many idle services on one machine, and the same count of bare Node servers (the floor). */
export interface FleetResult {
  services: number;
  /** From the first `squadron deploy --no-wait` to every instance ready and answering. */
  deployAllMs: number;
  /** Of that, until the last deploy command returned. */
  deployCommandsMs: number;
  /** Mean and largest resident memory of one idle instance. */
  instanceRssBytes: number;
  instanceRssMaxBytes: number;
  /** CPU of every process of the platform (control plane, broker, agent, instances) while nothing is called, in % of one core. */
  idleCpuPercent: number;
  floor: { readyAllMs: number; rssBytes: number; rssMaxBytes: number; idleCpuPercent: number };
}

export type FromChild =
  | { type: 'ready'; address?: string; note?: string }
  | { type: 'load'; result: LoadResult }
  | { type: 'published'; result: PublishResult }
  | { type: 'received'; result: ReceiveResult }
  | { type: 'enqueued'; result: EnqueueResult }
  | { type: 'consumed'; result: ConsumeResult }
  | { type: 'deployed'; result: DeployResult }
  | { type: 'fleet'; result: FleetResult }
  | { type: 'error'; message: string };

export type ToChild =
  /** Publisher: send `count` messages, flushing every `flushEvery`. */
  | { type: 'publish'; count: number; flushEvery: number }
  /** Subscriber: report once `count` messages arrived, or after `idleMs` without one; then reset. */
  | { type: 'collect'; count: number; idleMs: number }
  | { type: 'stop' };

/** Wall-clock ms with sub-ms precision, comparable across processes on one machine. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
