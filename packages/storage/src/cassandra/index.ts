export { CassandraProvisioner } from './provisioner.ts';
export type { CassandraState } from './provisioner.ts';
export { cassandraClientOptions, openCassandraClient, LOCAL_QUORUM } from './client.ts';
export type { CassandraCredentials } from './client.ts';
export { cassandraOptionsFromEnv } from './config.ts';
export type { CassandraOptions } from './config.ts';
export { createStatements, destroyStatements, replicationMap, ROLE_PERMISSIONS } from './statements.ts';
export type { CassandraPlan } from './statements.ts';
export { keyspaceName } from './names.ts';
