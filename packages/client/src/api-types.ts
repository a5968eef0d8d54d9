import type { InstanceInfo } from '@squadron/protocol';

/** Shapes of the HTTP API's bodies, shared by the server and the typed client. */

import type { Access, RateLimit, ServicePolicy, PolicyAnswer } from '@squadron/policy';

export type SiteKind = 'datacenter' | 'cloud';

export interface HealthBody {
  status: 'ok';
  version: string;
  uptimeMs: number;
}

export interface SiteBody {
  name: string;
  kind: SiteKind;
  broker: { address: string } | null;
  /** Instance slots per agent (datacenter sites); null: elastic (cloud sites). */
  slots: number | null;
  /** How long a new instance waits for capacity before it starts (cloud sites). */
  provisionDelayMs: number;
}

export interface SitesBody {
  sites: SiteBody[];
}

export interface SubscriptionBody {
  topic: string;
  group: string;
  members: number;
  delivered: number;
  dropped: number;
}

/** Messages one subscriber (a client or an instance) dropped itself, its handler behind, as it last reported. */
export interface SubscriberDropBody {
  /** The instance id of a service's instance, or the name a client connected with. */
  subscriber: string;
  topic: string;
  group: string;
  dropped: number;
}

export interface SiteStatusBody extends SiteBody {
  /** `up: false` when the broker did not answer; `error` says why. */
  brokerStatus: {
    up: boolean;
    connections: number;
    published: number;
    peers: Array<{ site: string; up: boolean; forwarded: number; dropped: number }>;
    subscriptions: SubscriptionBody[];
    /** Messages subscribers dropped themselves, their handlers behind, per subscriber and subscription. */
    subscriberDrops?: SubscriberDropBody[];
    /** Publishes, subscriptions and consumers the broker refused, per caller (access policies). */
    refusals?: RefusalBody[];
    error?: string;
  };
}

export interface RefusalBody {
  caller: string;
  permission: 'publish' | 'subscribe' | 'consume';
  kind: 'topic' | 'queue';
  name: string;
  refused: number;
}

export interface InstanceBody extends Pick<InstanceInfo, 'id' | 'service' | 'site' | 'address' | 'pid' | 'inFlight' | 'startedAt'> {
  methods: string[];
  topics: string[];
  /**
   * Calls refused since the instance started, per pair `CALLER>SERVICE` (CALLER `service:NAME` or
   * `squad:NAME`): as the callee, by its policy; as a caller, by its mirror of the callee's.
   */
  rejections: Record<string, { rateLimited: number; denied: number }>;
}

export interface StatusBody {
  sites: SiteStatusBody[];
  services: Array<{ name: string; instances: InstanceBody[] }>;
}

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    /** For BAD_REQUEST: each failing field, by its path in the body (e.g. `/instances`). */
    fields?: Array<{ path: string; message: string }>;
  };
}

/** One durable queue in one site. */
export interface QueueRowBody {
  site: string;
  queue: string;
  /** Messages waiting (ready or delayed), not in flight, not dead. */
  depth: number;
  inFlight: number;
  dead: number;
  enqueued: number;
  delivered: number;
  acked: number;
  redelivered: number;
  deadLettered: number;
  /** Messages kept (waiting, in flight and dead): what the queue's limit counts. */
  stored?: number;
  /** Payload bytes of the messages kept. */
  bytes?: number;
  /** The queue's limit at that site, or null when its broker enforces none. */
  limit?: QueueLimitBody | null;
}

/** What a queue, or all of a squad's queues at one site, may hold: messages and payload bytes (dead letters included). */
export interface QueueLimitBody {
  maxMessages: number;
  maxBytes: number;
}

/** The queue quotas in force at every site: the defaults, the limits owners set, the totals the admin set. */
export interface QueueQuotasBody {
  queueDefault: QueueLimitBody;
  squadDefault: QueueLimitBody;
  unclaimed: QueueLimitBody;
  queues: Array<QueueLimitBody & { queue: string }>;
  squads: Array<QueueLimitBody & { squad: string }>;
}

export interface DeadLetterBody {
  seq: number;
  id: string;
  deliveries: number;
  error: string | null;
  enqueuedAt: number;
}

// ---- Catalog ----------------------------------------------------------------------------------

/** Who made a request: the platform admin, or a squad (by its token). */
export interface WhoAmIBody {
  kind: 'admin' | 'squad' | 'agent';
  /** The squad's name, the agent's id, or `admin`. */
  name: string;
}

export interface SquadBody {
  name: string;
  createdAt: number;
  createdBy: string;
}

/** The answer to creating a squad: the token is shown this once and never stored in the clear. */
export interface CreatedSquadBody extends SquadBody {
  token: string;
}

/** What a service's definition declares, as its running code reported it. */
export interface ServiceInterfaceBody {
  methods: string[];
  /** Topics it subscribes to. */
  topics: string[];
  /** Queues it consumes. */
  queues: string[];
  /** Topics it publishes: it owns them (absent when reported by code from before publishes were declared). */
  publishes?: string[];
}

export interface ServiceBody {
  name: string;
  squad: string;
  repo: string | null;
  description: string | null;
  createdAt: number;
  /** From the code of the current release, once an instance of it started; else null. */
  interface: ServiceInterfaceBody | null;
  /** The release that is (being) rolled out, or null when not deployed. */
  release: number | null;
  /** Desired instances per site (empty when not deployed). */
  desired: Record<string, number>;
  /** The topics and queues it owns, and what its code declares that another service owns. */
  claims: ServiceClaimsBody;
}

/** A topic (declared in `publishes`) or a queue (a consumer's). */
export interface ClaimBody {
  kind: 'topic' | 'queue';
  name: string;
}

/**
 * Each topic and queue has one owner, the service that claimed it first. `shared`: names another
 * service of the same squad owns (the squad's services use them freely); `refused`: names another
 * squad's service owns, which give this service no rights, each with a message saying what to do.
 */
export interface ServiceClaimsBody {
  owned: ClaimBody[];
  shared: Array<ClaimBody & { owner: string }>;
  refused: Array<ClaimBody & { owner: string; ownerSquad: string | null; message: string }>;
}

export interface CreateServiceRequest {
  name: string;
  squad: string;
  repo?: string;
  description?: string;
}

// ---- Deployments ------------------------------------------------------------------------------

export interface ReleaseBody {
  service: string;
  number: number;
  /** The digest of the artifact its instances run (`sha256:…`); null only for a release from before artifacts whose folder could not be built. */
  artifact: string | null;
  /** The folder its artifact was built from, as the deployer named it (for people: agents never read it); null when not given. */
  path: string | null;
  /** Instances per site when this release was made. */
  desired: Record<string, number>;
  createdAt: number;
  createdBy: string;
  /** The release this one rolled back to, when it was made by a rollback. */
  rollbackOf: number | null;
  /** Each instance's memory ceiling, in MiB. */
  maxMemoryMb: number;
}

/**
 * A deploy runs an artifact uploaded before (`POST /v1/artifacts`), or one the control plane
 * builds from a folder on its own machine (`path` alone). With both, `path` is only recorded.
 */
export interface DeployRequest {
  artifact?: string;
  path?: string;
  sites: string[];
  /** Instances in each of `sites`. */
  instances: number;
  /** Each instance's memory ceiling in MiB (default 256; `MEMORY_CEILING_MB` has the range). */
  maxMemoryMb?: number;
}

/** A stored release artifact. */
export interface ArtifactBody {
  digest: string;
  size: number;
  /** The file the runtime imports. */
  entry: string;
  files: Array<{ name: string; bytes: number }>;
}

export interface ScaleRequest {
  instances: number;
  /** Only this site; default every site the service runs in. */
  site?: string;
}

export interface RollbackRequest {
  /** Default: the release before the current one. */
  to?: number;
}

/**
 * One instance the control plane placed. `pending`: placed, not started yet (a cloud site is
 * provisioning it); `starting`, `ready`; `crashed`: exited and waiting to restart (`crashLoop`
 * once it keeps dying at once); `draining`: told to stop, finishing in-flight requests.
 */
export type InstanceState = 'pending' | 'starting' | 'ready' | 'crashed' | 'draining';

/**
 * Why the agent ended an instance's process, when it did: `memory-limit`, its resident memory
 * stayed above its ceiling; `heap-limit`, V8 ran out of the heap the ceiling allows.
 */
export type InstanceExitReason = 'memory-limit' | 'heap-limit';

export interface InstanceExitBody {
  code: number | null;
  signal: string | null;
  at: number;
  /** Absent when it exited on its own. */
  reason?: InstanceExitReason;
}

/** What an agent observes of an instance's process. */
export interface InstanceObservation {
  pid: number | null;
  rssBytes: number | null;
  /** Share of one core over the agent's last sample, 0-100 (or more with threads). */
  cpuPercent: number | null;
  restarts: number;
  crashLoop: boolean;
  lastExit: InstanceExitBody | null;
  /** When its current process became ready. */
  readyAt: number | null;
  /** Run at the lowest CPU priority for using more than its share of a core (see the agent). */
  demoted: boolean;
  /** When a crashed instance will be started again (its restart backoff); else null. */
  restartAt: number | null;
}

export interface InstanceRecordBody extends InstanceObservation {
  id: string;
  service: string;
  release: number;
  site: string;
  agent: string | null;
  state: InstanceState;
  createdAt: number;
  /** Its release's memory ceiling, in MiB. */
  maxMemoryMb: number;
}

export interface AuditBody {
  id: number;
  at: number;
  /** `admin`, `squad:<name>` or `agent:<id>`. */
  actor: string;
  /** e.g. `service.create`, `service.deploy`, `service.scale`. */
  action: string;
  /** What it acted on, e.g. `service:playlists`. */
  target: string;
  detail: Record<string, unknown>;
}

// ---- Agents (the control plane's side of each site's agents) ----------------------------------

export interface AgentBody {
  id: string;
  site: string;
  host: string;
  /** Instance slots (datacenter sites); null: elastic (cloud sites). */
  slots: number | null;
  lastSeenAt: number;
  up: boolean;
  instances: number;
}

export interface RegisterAgentRequest {
  site: string;
  host: string;
  /** Override the site's slots per agent (datacenter sites). */
  slots?: number;
}

export interface RegisteredAgentBody {
  id: string;
  /** Report at least this often, or be taken for dead. */
  reportEveryMs: number;
}

/** One instance an agent must run. Every instance it runs that is not listed, it drains. */
export interface AssignmentBody {
  id: string;
  service: string;
  release: number;
  /** The digest of the release's artifact, fetched from `GET /v1/artifacts/{digest}`; null for a release that has none (it cannot start). */
  artifact: string | null;
  site: string;
  /** Wait this long before starting it (a cloud site provisioning capacity). */
  provisionDelayMs: number;
  /** Its memory ceiling, in MiB. */
  maxMemoryMb: number;
}

export interface AssignmentsBody {
  /** Increases whenever the list changes; pass it back as `after` to wait for the next change. */
  version: number;
  /** The site's broker address the instances attach to (null until it is known). */
  broker: string | null;
  instances: AssignmentBody[];
}

/** What an agent says of one instance it runs. */
export interface InstanceReportBody extends InstanceObservation {
  id: string;
  state: InstanceState;
  /** What the instance's definition declares (sent once it is ready). */
  interface?: ServiceInterfaceBody;
}

export interface AgentReportRequest {
  instances: InstanceReportBody[];
}

// ---- Identity ---------------------------------------------------------------------------------

/** An Ed25519 public key (JWK) a credential is bound to. */
export interface HolderKeyBody {
  kty?: string;
  crv?: string;
  x?: string;
}

/** A signed credential (a JWT), its id (what a revocation names) and when it expires (epoch ms). */
export interface CredentialBody {
  credential: string;
  id: string;
  expiresAt: number;
}

// ---- access policies

export type { Access, GrantRule, DenyRule, RateLimit, PolicySet, ServicePolicy } from '@squadron/policy';

export interface AccessRequest {
  access: Access;
}

/** A grant for one caller on one service; given again, it replaces the earlier one. */
export interface GrantRequest {
  /** Methods it may call; absent: all of them, unless the grant is for topics or queues only. */
  methods?: string[];
  /** The pair's limit, in calls per second; absent: the platform's default threshold. */
  ratePerSecond?: number;
  /** Calls that may come at once (default: two seconds' worth of the rate). */
  burst?: number;
  publish?: string[];
  subscribe?: string[];
  consume?: string[];
}

export interface DenyRequest {
  /** Methods refused; absent: everything on the service, its topics and queues included. */
  methods?: string[];
}

/** A service's policy as `squadron policy SERVICE` shows it. */
export interface ServicePolicyBody extends ServicePolicy {
  service: string;
  /** What a caller without a grant gets, when the service is open. */
  defaultRate: RateLimit;
}

/** GET /v1/policies: the whole set, or only its version when the caller has it already. */
export type PoliciesBody = PolicyAnswer;

// ---- storage

export type StorageKindName = 'kv' | 'postgres' | 'memcached' | 'cassandra';

export interface CreateStorageRequest {
  name: string;
  kind: StorageKindName;
  /** The service that owns it; its squad manages it and its instances get clients for it. */
  service: string;
  sites: string[];
  /** postgres: the primary's site (default: the first of `sites`). */
  primary?: string;
  /** postgres: synchronous replication to the standbys. */
  sync?: boolean;
}

/** `creating` while its provisioner works; `ready`; `failed` (with `error`); `destroying`. */
export type StorageStatus = 'creating' | 'ready' | 'failed' | 'destroying';

export interface StorageBody {
  name: string;
  kind: StorageKindName;
  service: string;
  squad: string;
  sites: string[];
  primary: string;
  sync: boolean;
  status: StorageStatus;
  error: string | null;
  createdAt: number;
  createdBy: string;
}

/** `squadron storage show`: the resource, and each site's part as its provisioner sees it now. */
export interface StorageDetailBody extends StorageBody {
  description: {
    sites: Array<{ site: string; role: string; endpoint: string | null; up: boolean; lag?: number; detail?: string }>;
    facts: Record<string, unknown>;
  } | null;
}

export interface StorageCredentialsBody {
  name: string;
  kind: StorageKindName;
  credentials: Record<string, unknown>;
}

// ---- API apps (kv over HTTP)

export interface AppBody {
  name: string;
  squad: string;
  /** The kv store its keys live in. */
  storage: string;
  createdAt: number;
  createdBy: string;
}

export interface CreatedAppBody extends AppBody {
  /** The app's key, shown this once. */
  token: string;
}

export interface CreateAppRequest {
  name: string;
  storage: string;
  maxKeys?: number;
  maxBytes?: number;
}
