export * from './provisioner.ts';
export { MemcachedProvisioner, MemcachedClient, HashRing, findMemcached, memcachedVersion, memcachedStats } from './memcached/index.ts';
export type { MemcachedOptions, MemcachedCredentials, MemcachedState, MemcachedClientOptions, SetOptions, RestartPolicy } from './memcached/index.ts';
export { lookupOsUser, ensureSystemUser, ensureSystemUserAsync, type OsUser } from './postgres/run-as.ts';
export { openStorageClient, type StorageClientOptions } from './clients.ts';
export { PostgresProvisioner, postgresPool, DEFAULT_FAILOVER_POLICY, locatePostgresBinaries, type PostgresProvisionerOptions, type PostgresState, type EmbeddedPostgresState, type ExistingPostgresState, type PostgresCredentials, type FailoverRecord, type FailoverPolicy, type CredentialSource, type PostgresPoolOptions, type PostgresBinaries } from './postgres/index.ts';
export { KvProvisioner, KvClient, KvConflictError, KvQuotaError, KvInputError, KvStore, setKvQuota, serviceNamespace, appNamespace, legacyMoves, moveNamespaces, DEFAULT_QUOTA as DEFAULT_KV_QUOTA, type KvState, type KvCredentials, type KvProvisionerOptions, type KvClientOptions, type KvEndpoints, type PutOptions, type FieldError, type KvLimit, type KvQuota, type KvUsage, type KvEntry, type KvPage, type KvStoreOptions, type WriteOptions, type KvErrorBody, type PeerStatus } from './kv/index.ts';
export { CassandraProvisioner, cassandraClientOptions, openCassandraClient, cassandraOptionsFromEnv, createStatements as cassandraCreateStatements, destroyStatements as cassandraDestroyStatements, LOCAL_QUORUM } from './cassandra/index.ts';
export type { CassandraState, CassandraCredentials, CassandraOptions, CassandraPlan } from './cassandra/index.ts';
