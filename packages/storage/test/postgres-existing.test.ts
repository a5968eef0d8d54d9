import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { silent, testPostgresAdminUrl } from '@squadron/testkit';
import { PostgresProvisioner, postgresPool, StorageError, type PostgresState, type StorageSpec } from '../src/index.ts';

// The machine's PostgreSQL (127.0.0.1:5432, or SQUADRON_TEST_PG_URL) as the existing server:
// the provisioner only makes, and drops, a database and a role there.
const adminUrl = testPostgresAdminUrl();
const provisioner = new PostgresProvisioner({ existingServerUrl: adminUrl });
const ctx = { dir: '/nonexistent', log: silent };
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const made: Array<{ spec: StorageSpec; state: PostgresState }> = [];

function spec(name: string): StorageSpec {
  return { name: `${name}-${suffix}`, kind: 'postgres', service: 'billing', squad: 'money', sites: ['sto', 'gcp-eu'], primary: 'sto', sync: false };
}

async function admin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

after(async () => {
  for (const m of made) await provisioner.destroy(m.spec, m.state, ctx).catch(() => {});
});

describe('postgres on an existing server', () => {
  it('creates a database and a role with a generated password; destroy drops both', async () => {
    const s = spec('invoices');
    const state = await provisioner.create(s, ctx);
    made.push({ spec: s, state });
    assert.equal(state.mode, 'existing');
    const credentials = provisioner.credentials(s, state);
    assert.equal(credentials.database, `sq_${s.name.replace(/-/g, '_')}`);
    assert.equal(credentials.user, credentials.database);
    assert.ok(credentials.password.length >= 24, 'a generated password');
    assert.equal(credentials.primary, 'sto');

    const pool = await postgresPool(() => provisioner.credentials(s, state));
    try {
      await pool.query('CREATE TABLE invoices (id int PRIMARY KEY)');
      await pool.query('INSERT INTO invoices VALUES (1)');
      const { rows } = await pool.query<{ db: string; who: string; n: number }>('SELECT current_database() AS db, current_user AS who, count(*)::int AS n FROM invoices');
      assert.deepEqual(rows, [{ db: credentials.database, who: credentials.user, n: 1 }]);
    } finally {
      await pool.end();
    }
    const described = await provisioner.describe(s, state, ctx);
    assert.deepEqual(described.sites.map((x) => [x.site, x.role, x.up]), [['sto', 'primary', true]]);
    assert.equal(provisioner.credentials(s, await provisioner.create(s, ctx)).database, credentials.database, 'a second create finds its own database');

    await provisioner.destroy(s, state, ctx);
    const left = await admin(async (c) => (await c.query(
      'SELECT (SELECT count(*) FROM pg_database WHERE datname = $1)::int AS dbs, (SELECT count(*) FROM pg_roles WHERE rolname = $1)::int AS roles',
      [credentials.database],
    )).rows[0]);
    assert.deepEqual(left, { dbs: 0, roles: 0 });
    await provisioner.destroy(s, state, ctx);
  });

  it("one resource's role cannot connect to another's database; failover is refused", async () => {
    const a = spec('ledger-a');
    const b = spec('ledger-b');
    const stateA = await provisioner.create(a, ctx);
    made.push({ spec: a, state: stateA });
    const stateB = await provisioner.create(b, ctx);
    made.push({ spec: b, state: stateB });
    const ca = provisioner.credentials(a, stateA);
    const cb = provisioner.credentials(b, stateB);
    const intruder = new pg.Client({ ...cb.hosts.sto, user: cb.user, password: cb.password, database: ca.database });
    intruder.on('error', () => {});
    await assert.rejects(intruder.connect(), (err: { code?: string }) => err.code === '42501');
    // The server is not the platform's to fail over.
    await assert.rejects(provisioner.failover(a, stateA, ctx), (err: unknown) => err instanceof StorageError && err.code === 'NOT_SUPPORTED');
  });

  it('a database of that name that is not the resource\'s: CONFLICT, and it is left alone', async () => {
    const s = spec('taken');
    const name = `sq_${s.name.replace(/-/g, '_')}`;
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
    try {
      await assert.rejects(provisioner.create(s, ctx), (err: unknown) => err instanceof StorageError && err.code === 'CONFLICT' && err.message.includes(name));
      const exists = await admin(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount);
      assert.equal(exists, 1);
    } finally {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name}`));
    }
  });
});
