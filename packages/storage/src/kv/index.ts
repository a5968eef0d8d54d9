// The kv kind's public surface: the provisioner, the client a handler gets, the typed errors,
// quotas and the store. The server (Fastify) is not here: it runs in its own process
// (kv/server-main.ts), and importing the package should not load it.
export { KvProvisioner, type KvState, type KvCredentials, type KvProvisionerOptions } from './provisioner.ts';
export { KvClient, type KvClientOptions, type KvEndpoints, type PutOptions } from './client.ts';
export { KvConflictError, KvQuotaError, KvInputError, type FieldError, type KvLimit } from './kv-errors.ts';
export { setKvQuota } from './quota-admin.ts';
export { serviceNamespace, appNamespace, isOwnerNamespace, OWNER_NAMESPACE_PATTERN } from './namespaces.ts';
export { legacyMoves, moveNamespaces, type NamespaceMove } from './namespace-migration.ts';
export { DEFAULT_QUOTA, type KvQuota, type KvUsage } from './quotas.ts';
export { KvStore, type KvEntry, type KvPage, type KvStoreOptions, type WriteOptions } from './store.ts';
export type { KvErrorBody } from './wire-errors.ts';
export type { PeerStatus } from './replication.ts';
