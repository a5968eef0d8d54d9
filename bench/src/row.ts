// One line of the result table, and the names that identify it. Shared by the suites that
// produce rows and the report that compares them.

/** `squadron-unix` is Squadron's default (same-host callers use the Unix socket). */
export type SystemId =
  | 'raw-tcp' | 'raw-unix' | 'squadron-unix' | 'squadron-tcp' | 'squadron' | 'nats' | 'moleculer'
  // Durable messaging peers: JetStream on the machine's nats-server (its default sync), JetStream
  // on a private nats-server syncing every write, Redis Streams with `appendfsync always`.
  | 'jetstream' | 'jetstream-sync' | 'redis'
  // Deploy to first call: through the CLI, through the API, and the runner started by hand (the floor).
  | 'squadron-cli' | 'squadron-api' | 'squadron-run'
  // Many idle services: bare Node servers, one per process (the floor).
  | 'node-floor';
export type ScenarioId = 'rpc-1' | 'rpc-64' | 'pubsub' | 'enqueue' | 'consume' | 'memory' | 'deploy' | 'fleet';

export const SYSTEM_LABEL: Record<SystemId, string> = {
  'raw-tcp': 'raw net (tcp)',
  'raw-unix': 'raw net (unix)',
  'squadron-unix': 'squadron (default, unix)',
  'squadron-tcp': 'squadron (tcp-only)',
  // Pub/sub and durable queues always go through the broker over TCP: no unix/tcp variant.
  squadron: 'squadron (via broker)',
  nats: 'nats.js',
  moleculer: 'moleculer (tcp)',
  jetstream: 'nats jetstream (file)',
  'jetstream-sync': 'nats jetstream (file, sync always)',
  redis: 'redis streams',
  'squadron-cli': 'squadron deploy (CLI)',
  'squadron-api': 'squadron deploy (API)',
  'squadron-run': 'squadron run by hand (floor)',
  'node-floor': 'bare node servers (floor)',
};

export const SCENARIO_LABEL: Record<ScenarioId, string> = {
  'rpc-1': 'req-reply, 1 in flight',
  'rpc-64': 'req-reply, 64 in flight',
  pubsub: 'pub/sub 1→1',
  enqueue: 'durable enqueue, 256 in flight',
  consume: 'durable consume + ack',
  memory: 'durable queue of 1M × 1 KB, unconsumed',
  deploy: 'deploy → first successful call (datacenter site)',
  fleet: 'idle one-method services on one machine',
};

export interface Row {
  system: SystemId;
  scenario: ScenarioId;
  status: 'ok' | 'skipped' | 'failed';
  /** Why a row was skipped or failed. */
  reason?: string;
  /** Calls/s (request-reply) or messages received/s (pub/sub). */
  rate?: number;
  p50Us?: number;
  p90Us?: number;
  p99Us?: number;
  p999Us?: number;
  maxUs?: number;
  meanUs?: number;
  /** Calls measured, or messages published. */
  count?: number;
  errors?: number;
  received?: number;
  /** Pub/sub: sent − received. */
  drops?: number;
  elapsedMs?: number;
  note?: string;
  /** Durable rows: when the system's ack means the message is on disk, in a few words. */
  durability?: string;
  /** Durable rows: whether that is an fsync before the ack, i.e. comparable to Squadron's. */
  syncedBeforeAck?: boolean;
  /** Memory row: the broker's peak resident memory, in bytes. */
  rssPeakBytes?: number;
  /** Fleet row: the mean resident memory of one idle instance, in bytes. */
  rssBytes?: number;
  /** Fleet row: CPU of the whole platform (or of the floor's processes) while idle, in % of one core. */
  idleCpuPercent?: number;
}

export function failedRow(system: SystemId, scenario: ScenarioId, err: unknown): Row {
  const reason = err instanceof Error ? err.message : String(err);
  return { system, scenario, status: 'failed', reason };
}

export function skippedRow(system: SystemId, scenario: ScenarioId, reason: string): Row {
  return { system, scenario, status: 'skipped', reason };
}

export function findRow(rows: readonly Row[], system: SystemId, scenario: ScenarioId): Row | undefined {
  return rows.find((r) => r.system === system && r.scenario === scenario && r.status === 'ok');
}
