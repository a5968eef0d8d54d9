import assert from 'node:assert/strict';
import pg from 'pg';
import { PostgresProvisioner, type PostgresCredentials } from '../src/index.ts';
import { conformance } from './conformance.ts';

// Real PostgreSQL servers from the machine's server programs (postgresql-15): a primary and a
// streaming standby, run by the shared provisioner suite.
conformance('postgres', {
  provisioner: () => new PostgresProvisioner(),
  failover: 'moves',
  timeoutMs: 15_000,
  checkCredentials(credentials, spec) {
    const c = credentials as PostgresCredentials;
    assert.equal(c.kind, 'postgres');
    assert.deepEqual(Object.keys(c.hosts), spec.sites, 'a server in every site');
    assert.ok(spec.sites.includes(c.primary));
    assert.ok(c.database && c.user && c.password.length >= 24);
    for (const at of Object.values(c.hosts)) assert.equal(at.host, '127.0.0.1');
  },
  // Serving means the role logs in to its database on every site's server (standbys read-only).
  async answers(credentials) {
    const c = credentials as PostgresCredentials;
    const results = await Promise.all(Object.values(c.hosts).map(async (at) => {
      const client = new pg.Client({ ...at, user: c.user, password: c.password, database: c.database, connectionTimeoutMillis: 2_000 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => {});
      }
    }));
    if (results.every(Boolean)) return true;
    assert.ok(!results.some(Boolean), `some sites serve and others do not: ${results.join(', ')}`);
    return false;
  },
});
