import type { FastifyRequest } from 'fastify';
import type { Sites } from '../sites.ts';
import type { Queues } from '../queues/queue-listing.ts';
import type { QueueQuotaStore } from '../queues/queue-quotas.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Deployments } from '../deploy/deployments.ts';
import type { ArtifactStore } from '../deploy/artifacts.ts';
import type { AgentRegistry } from '../deploy/agent-registry.ts';
import type { Reconciler } from '../deploy/reconciler.ts';
import type { Db } from '../state/db.ts';
import type { Principal } from '../auth/principal.ts';
import type { AccessPolicies } from '../access/access-policies.ts';
import type { StorageManager } from '../storage/storage-manager.ts';
import type { KvApps } from '../storage/kv-apps.ts';
import type { CredentialAuthority } from '../identity/credential-authority.ts';

/** What the routes act on: the control plane's parts, built once by `buildControlServer`. */
export interface RouteContext {
  db: Db;
  sites: Sites;
  queues: Queues;
  queueQuotas: QueueQuotaStore;
  catalog: Catalog;
  artifacts: ArtifactStore;
  deployments: Deployments;
  agents: AgentRegistry;
  reconciler: Reconciler;
  authority: CredentialAuthority;
  access: AccessPolicies;
  storage: StorageManager;
  apps: KvApps;
  version: string;
  started: number;
}

/** The caller, set by the authentication hook on every route that is not public. */
export function principal(req: FastifyRequest): Principal {
  return (req as FastifyRequest & { principal: Principal }).principal;
}
