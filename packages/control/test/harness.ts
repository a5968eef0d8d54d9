import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildControlServer, openStateStore, Sites, validateConfig, type ControlServerOptions, type Db, type PlatformConfig } from '@squadron/control';
import { freshPostgresDatabase, silent } from '@squadron/testkit';

export type StoreKind = 'sqlite' | 'postgres';
export const STORES: StoreKind[] = ['sqlite', 'postgres'];

export interface TestControl {
  app: FastifyInstance;
  sites: Sites;
  /** The state store itself, for rows as an earlier version of the platform wrote them. */
  db: Db;
  adminToken: string;
  /** The control plane's data directory (its state store; no release may hold it). */
  dataDir: string;
  /** `Authorization` headers for a token. */
  as(token: string): { authorization: string };
  close(): Promise<void>;
}

/** Two sites by default: sto (datacenter, 4 slots per agent) and gcp-eu (cloud, no delay). */
export const TEST_CONFIG = {
  sites: [{ name: 'sto', kind: 'datacenter', slots: 4 }, { name: 'gcp-eu', kind: 'cloud', provisionDelayMs: 0 }],
};

/**
 * A control plane in this process on a fresh store: a SQLite file in a temp dir, or a fresh
 * database on the machine's PostgreSQL, dropped at close.
 */
export async function startControl(
  store: StoreKind, label: string, config: unknown = TEST_CONFIG, agentReportEveryMs?: number, storage?: ControlServerOptions['storage'],
): Promise<TestControl> {
  const dir = mkdtempSync(join(tmpdir(), 'squadron-control-'));
  const pg = store === 'postgres' ? await freshPostgresDatabase(label) : null;
  const db = await openStateStore(pg ? pg.url : join(dir, 'state.db'));
  const sites = new Sites(validateConfig(config) as PlatformConfig);
  const adminToken = 'sqa_test-admin-token';
  const app = await buildControlServer({ sites, db, adminToken, logger: silent, dataDir: dir, ...(agentReportEveryMs ? { agentReportEveryMs } : {}), ...(storage ? { storage } : {}) });
  return {
    app, sites, db, adminToken, dataDir: dir,
    as: (token) => ({ authorization: `Bearer ${token}` }),
    close: async () => {
      await app.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
