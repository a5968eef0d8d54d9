/** A caller's allowance toward one service: calls per second, and how many may come at once. */
export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}

/** The platform's default threshold for a caller without a grant: anyone may try a service out. */
export const DEFAULT_RATE_LIMIT: RateLimit = { ratePerSecond: 50, burst: 100 };

/** `open`: any authenticated caller at the default threshold; `restricted`: granted callers only. */
export type Access = 'open' | 'restricted';

/** What a grant can allow on a service's topics and queues. */
export type MessagingPermission = 'publish' | 'subscribe' | 'consume';

/**
 * Who a rule names: a service (`playlists`), or every service and client of a squad
 * (`squad:engagement`).
 */
export type CallerName = string;

export interface GrantRule {
  caller: CallerName;
  /** Methods the grant lets the caller call; null: all of them; empty: none (a messaging-only grant). */
  methods: string[] | null;
  /** The pair's limit; null: the platform's default. */
  rate: RateLimit | null;
  /** Topics the caller may publish to, and queues it may enqueue to. */
  publish: string[];
  /** Topics the caller may subscribe to. */
  subscribe: string[];
  /** Queues the caller may consume. */
  consume: string[];
}

export interface DenyRule {
  caller: CallerName;
  /** Methods refused; null: everything on the service, its topics and queues included. */
  methods: string[] | null;
}

/** One service's policy, as the control plane hands it out. */
export interface ServicePolicy {
  /** The owner squad: its own services and clients are always let in. */
  squad: string;
  access: Access;
  grants: GrantRule[];
  denies: DenyRule[];
  /** Topics the service publishes (declared in its code): it owns them. */
  topics: string[];
  /** Queues the service consumes (declared in its code): it owns them. */
  queues: string[];
}

/** How much a queue (or all of a squad's queues at one site) may hold: messages and record bytes, dead letters included. */
export interface QueueLimit {
  maxMessages: number;
  maxBytes: number;
}

/**
 * Limits on what durable queues hold at each site's broker, so that no squad can fill the log
 * every squad shares: each queue has the platform's default unless its owner set another, and
 * all of a squad's queues at a site together stay within its total (the admin's to set).
 * Queues nobody claimed count toward one shared total, `unclaimed`.
 */
export interface QueueQuotas {
  /** A queue's limit unless its owner set one. */
  queueDefault: QueueLimit;
  /** Queue name → the limit its owner set. */
  queues: Record<string, QueueLimit>;
  /** A squad's total at one site, unless the admin set another. */
  squadDefault: QueueLimit;
  /** Squad → the total the admin set. */
  squads: Record<string, QueueLimit>;
  /** The total of every queue nobody claimed, at one site. */
  unclaimed: QueueLimit;
}

/** Every service's policy and the default threshold; `version` changes whenever any of it does. */
export interface PolicySet {
  version: string;
  defaultRate: RateLimit;
  services: Record<string, ServicePolicy>;
  /** Limits on durable queues; absent: none (a broker run on its own, without a control plane). */
  queueQuotas?: QueueQuotas;
}

/** Who is asking, from a verified credential. */
export interface Caller {
  /** The calling service; null for a client (the CLI, a script) acting for its squad. */
  service: string | null;
  squad: string;
}

/** The squad of the platform's own tools: not held to any service's policy. */
export const ADMIN_SQUAD = 'admin';

/** How a caller is named in counters and errors: `service:<name>`, or `squad:<name>` for a client. */
export function callerKey(caller: Caller): string {
  return caller.service !== null ? `service:${caller.service}` : `squad:${caller.squad}`;
}
