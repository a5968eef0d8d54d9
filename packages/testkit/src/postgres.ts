import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

/** The server tests create their databases on; override with SQUADRON_TEST_PG_URL. */
export function testPostgresAdminUrl(): string {
  return process.env.SQUADRON_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export interface FreshPostgresDatabase {
  /** Connection URL of the new, empty database. */
  url: string;
  /** Drops the database, ending any connection still open to it. Safe to call twice. */
  drop(): Promise<void>;
}

/**
 * A new empty database on the test server, so each test starts from nothing and tests running
 * in parallel never see each other's rows. Its name is `sq_` + the label + a random suffix.
 */
export async function freshPostgresDatabase(label: string): Promise<FreshPostgresDatabase> {
  const adminUrl = testPostgresAdminUrl();
  const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40);
  const name = `sq_${slug ? `${slug}_` : ''}${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new (loadPg().Client)({ connectionString: adminUrl });
  try {
    await client.connect();
  } catch (err) {
    const safe = new URL(adminUrl);
    if (safe.password) safe.password = '***';
    throw new Error(
      `cannot reach the test PostgreSQL server at ${safe.toString()} (set SQUADRON_TEST_PG_URL to another one): ` +
        `${err instanceof Error && err.message ? err.message : String((err as { code?: unknown }).code ?? err)}`,
      { cause: err },
    );
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The part of pg used here (it ships no type declarations). */
interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

function loadPg(): { Client: new (config: { connectionString: string }) => PgClient } {
  return createRequire(import.meta.url)('pg') as { Client: new (config: { connectionString: string }) => PgClient };
}
