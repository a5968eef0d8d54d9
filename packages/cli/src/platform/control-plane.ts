import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildControlServer, openStateStore, adminTokenAt, Sites, type PlatformConfig } from '@squadron/control';
import { ADMIN_TOKEN_FILE, PLATFORM_FILE, type PlatformRecord } from '../env.ts';

export interface RunningControlPlane {
  url: string;
  adminToken: string;
  sites: Sites;
  app: FastifyInstance;
  stop(): Promise<void>;
}

/**
 * The control plane, listening: its state store opened (default `<dataDir>/state.db`), its admin
 * token made or read in the data directory, and its address recorded there for the CLI.
 */
export async function startControlPlane(config: PlatformConfig, dataDir: string, state?: string): Promise<RunningControlPlane> {
  mkdirSync(dataDir, { recursive: true });
  const logger = pino({ name: 'control', level: process.env.SQUADRON_LOG_LEVEL ?? 'warn' });
  const adminToken = adminTokenAt(join(dataDir, ADMIN_TOKEN_FILE));
  const db = await openStateStore(state ?? join(dataDir, 'state.db'));
  const sites = new Sites(config);
  const { KvProvisioner, PostgresProvisioner, MemcachedProvisioner, CassandraProvisioner, cassandraOptionsFromEnv } = await import('@squadron/storage');
  // Cassandra is a cluster the platform is pointed at (CASSANDRA_CONTACT_POINTS), never one it runs.
  const cassandra = cassandraOptionsFromEnv();
  const app = await buildControlServer({
    sites, db, adminToken, logger, defaultRate: config.defaultRate, credentialTtlMs: config.credentialTtlMs, queueQuotas: config.queueQuotas, dataDir,
    // Storage runs on this machine, under the data directory: kv, PostgreSQL and memcached servers per site.
    storage: {
      dir: join(dataDir, 'storage'),
      provisioners: (changed) => ({
        kv: new KvProvisioner(),
        postgres: new PostgresProvisioner({ onStateChange: changed, ...(config.postgresServer ? { existingServerUrl: config.postgresServer } : {}) }),
        memcached: new MemcachedProvisioner(),
        ...(cassandra.contactPoints?.length ? { cassandra: new CassandraProvisioner(cassandra) } : {}),
      }),
    },
  });
  await app.listen({ host: config.api.host, port: config.api.port });
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://${config.api.host}:${port}`;
  const record: PlatformRecord = { url, pid: process.pid, startedAt: Date.now() };
  writeFileSync(join(dataDir, PLATFORM_FILE), JSON.stringify(record, null, 2));
  return {
    url, adminToken, sites, app,
    stop: async () => {
      await app.close();
      rmSync(join(dataDir, PLATFORM_FILE), { force: true });
    },
  };
}
