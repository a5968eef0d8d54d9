export * from './provisioner.ts';
export { openStorageClient, type StorageClientOptions } from './clients.ts';
export { PostgresProvisioner, postgresPool, DEFAULT_FAILOVER_POLICY, locatePostgresBinaries, type PostgresProvisionerOptions, type PostgresState, type EmbeddedPostgresState, type ExistingPostgresState, type PostgresCredentials, type FailoverRecord, type FailoverPolicy, type CredentialSource, type PostgresPoolOptions, type PostgresBinaries } from './postgres/index.ts';
