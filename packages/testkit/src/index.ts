export { waitFor } from './wait.ts';
export { startSites, silent } from './sites.ts';
export type { TestSites } from './sites.ts';
export { spawnInstance, spawnBroker, rssBytes, alive, SQUADRON_BIN, WORKER_DIR } from './processes.ts';
export type { InstanceProcess, BrokerProcess } from './processes.ts';
export { squadron, startSquadron } from './cli.ts';
export type { CliResult, LiveCommand } from './cli.ts';
export { freshPostgresDatabase, testPostgresAdminUrl } from './postgres.ts';
export type { FreshPostgresDatabase } from './postgres.ts';
