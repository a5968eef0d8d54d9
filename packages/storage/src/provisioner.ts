import type { Logger } from 'pino';

/** The kinds of storage a squad can ask for. */
export type StorageKind = 'kv' | 'postgres' | 'memcached' | 'cassandra';

/** What a squad asked for: `squadron storage create NAME --kind K --service S --sites a,b [--primary a] [--sync]`. */
export interface StorageSpec {
  /** The resource's name: lower-case letters, digits and dashes. */
  name: string;
  kind: StorageKind;
  /** The service that owns it (its squad manages it; its instances get clients for it). */
  service: string;
  squad: string;
  /** Sites it lives in, in the platform's failover order. */
  sites: string[];
  /** The site of the primary (postgres); the first site by default. */
  primary: string;
  /** postgres: commit only once the standbys have the WAL (synchronous replication). */
  sync: boolean;
}

/** Where a provisioner keeps what it runs, and what else it needs from the platform. */
export interface ProvisionContext {
  /** This resource's own folder (created by the caller): data directories, sockets, logs. */
  dir: string;
  log: Logger;
}

/** One site's part of a resource, as `squadron storage show` lists it. */
export interface SiteState {
  site: string;
  /** `primary`, `standby`, `replica` (kv, memcached), `down`. */
  role: string;
  /** host:port (or another locator) of what serves this site. */
  endpoint: string | null;
  up: boolean;
  /** Replication lag in bytes (postgres standby) or ms (kv), when known. */
  lag?: number;
  detail?: string;
}

/** What `squadron storage show` prints: the sites and anything kind-specific. */
export interface StorageDescription {
  sites: SiteState[];
  /** Kind-specific facts (the current primary, the last failover and how long it took...). */
  facts: Record<string, unknown>;
}

/**
 * One kind of storage. The control plane keeps each resource's spec and the state its
 * provisioner returns (plain JSON), and calls these in order: `create` once, `start` after each
 * platform restart, `stop` at shutdown (the data stays), `destroy` at the end. Every method is
 * idempotent for the same arguments, and throws a StorageError (typed, with what to do next)
 * when it cannot do its part, having undone what it did.
 */
export interface Provisioner<State = unknown> {
  readonly kind: StorageKind;
  /** Make it exist and run; returns the state to keep. */
  create(spec: StorageSpec, ctx: ProvisionContext): Promise<State>;
  /** Run it again from its kept state (the platform restarted); returns the state, changed or not. */
  start(spec: StorageSpec, state: State, ctx: ProvisionContext): Promise<State>;
  /** Stop what it runs; the data stays. */
  stop(spec: StorageSpec, state: State, ctx: ProvisionContext): Promise<void>;
  describe(spec: StorageSpec, state: State, ctx: ProvisionContext): Promise<StorageDescription>;
  /** What a client needs to connect (secrets included): shown to the owner squad, given to its instances. */
  credentials(spec: StorageSpec, state: State): Record<string, unknown>;
  /** Move the primary (to `toSite`, or the next healthy site); returns the new state. Kinds without a primary refuse. */
  failover(spec: StorageSpec, state: State, ctx: ProvisionContext, toSite?: string): Promise<State>;
  /** Stop it and delete its data. */
  destroy(spec: StorageSpec, state: State, ctx: ProvisionContext): Promise<void>;
}

/** Stable codes of storage failures. */
export type StorageErrorCode = 'STORAGE_UNAVAILABLE' | 'MISSING_BINARY' | 'BAD_REQUEST' | 'NOT_SUPPORTED' | 'QUOTA_EXCEEDED' | 'CONFLICT' | 'NOT_FOUND';

/** A storage failure: its code, and a message that says what to do next. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(readonly code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
