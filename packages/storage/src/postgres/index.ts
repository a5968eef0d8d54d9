// The postgres kind's public surface, re-exported by the package entry.
export { PostgresProvisioner } from './provisioner.ts';
export type { PostgresProvisionerOptions } from './provisioner.ts';
export { postgresPool } from './client.ts';
export type { CredentialSource, PostgresPoolOptions } from './client.ts';
export { DEFAULT_FAILOVER_POLICY } from './monitor.ts';
export type { FailoverPolicy } from './monitor.ts';
export { locatePostgresBinaries } from './binaries.ts';
export type { PostgresBinaries } from './binaries.ts';
export type { PostgresState, EmbeddedPostgresState, ExistingPostgresState, PostgresCredentials, FailoverRecord } from './state.ts';
