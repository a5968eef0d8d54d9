import type { InstanceInfo } from '@squadron/protocol';

/** Shapes of the HTTP API's bodies, shared by the server and the typed client. */

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

export interface SiteStatusBody extends SiteBody {
  /** `up: false` when the broker did not answer; `error` says why. */
  brokerStatus: {
    up: boolean;
    connections: number;
    published: number;
    peers: Array<{ site: string; up: boolean; forwarded: number; dropped: number }>;
    subscriptions: SubscriptionBody[];
    error?: string;
  };
}

export interface InstanceBody extends Pick<InstanceInfo, 'id' | 'service' | 'site' | 'address' | 'pid' | 'inFlight' | 'startedAt'> {
  methods: string[];
  topics: string[];
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
  /** The service folder, as the agents of each site see it. */
  path: string;
  /** Instances per site when this release was made. */
  desired: Record<string, number>;
  createdAt: number;
  createdBy: string;
  /** The release this one rolled back to, when it was made by a rollback. */
  rollbackOf: number | null;
}

export interface DeployRequest {
  path: string;
  sites: string[];
  /** Instances in each of `sites`. */
  instances: number;
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

export interface InstanceExitBody {
  code: number | null;
  signal: string | null;
  at: number;
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
}

export interface InstanceRecordBody extends InstanceObservation {
  id: string;
  service: string;
  release: number;
  site: string;
  agent: string | null;
  state: InstanceState;
  createdAt: number;
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
  path: string;
  site: string;
  /** Wait this long before starting it (a cloud site provisioning capacity). */
  provisionDelayMs: number;
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
