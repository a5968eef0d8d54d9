import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import driver, { type ClientOptions } from 'cassandra-driver';
import { silent } from '@squadron/testkit';
import {
  CassandraProvisioner, LOCAL_QUORUM, StorageError, cassandraClientOptions, cassandraOptionsFromEnv, openCassandraClient, type CassandraCredentials, type StorageSpec,
} from '../src/index.ts';
import { conformance } from './conformance.ts';

/**
 * No Cassandra server can be installed on the platform's machines, so the live half of this file
 * runs only against a cluster named by CASSANDRA_CONTACT_POINTS (with CASSANDRA_LOCAL_DC, default
 * datacenter1, and a superuser in CASSANDRA_USER and CASSANDRA_PASSWORD; the cluster needs
 * PasswordAuthenticator and CassandraAuthorizer). Without one, the output says it was not run.
 */
const LIVE = Boolean(process.env.CASSANDRA_CONTACT_POINTS);
const NOT_RUN = 'cassandra live cluster tests NOT RUN: CASSANDRA_CONTACT_POINTS is not set (no Cassandra server can be installed here); ' +
  'set it, with CASSANDRA_LOCAL_DC, CASSANDRA_USER and CASSANDRA_PASSWORD, to run them';

describe('cassandra client', () => {
  const credentials: CassandraCredentials = {
    contactPoints: ['10.1.0.1', '10.2.0.1'], keyspace: 'sq_orders', user: 'sq_orders', password: 'Zm9vYmFyYmF6cXV4cXV1eA',
    localDataCenter: { sto: 'sto', 'gcp-eu': 'europe-west1' },
  };

  it('is a cassandra-driver Client whose local data centre is the caller\'s site, at LOCAL_QUORUM', async (t) => {
    assert.equal(LOCAL_QUORUM, driver.types.consistencies.localQuorum);
    const client = await openCassandraClient({ credentials: () => credentials, site: 'gcp-eu' });
    after(() => client.shutdown());
    assert.ok(client instanceof driver.Client);
    // The options the driver itself holds, as it will use them on its first query.
    const options = (client as unknown as { options: ClientOptions }).options;
    assert.equal(options.localDataCenter, 'europe-west1');
    assert.equal(options.queryOptions?.consistency, driver.types.consistencies.localQuorum);
    assert.equal(options.keyspace, 'sq_orders');
    assert.deepEqual(options.contactPoints, credentials.contactPoints);
    assert.ok(options.authProvider instanceof driver.auth.PlainTextAuthProvider, 'it logs in as the resource\'s role');

    assert.equal(cassandraClientOptions(credentials, 'sto').localDataCenter, 'sto');
    assert.equal(cassandraClientOptions(credentials, 'aws-us').localDataCenter, 'sto', 'a caller outside the resource\'s sites uses its first');
    assert.throws(() => cassandraClientOptions({ ...credentials, contactPoints: [] }, 'sto'), (err: unknown) => err instanceof StorageError && err.code === 'BAD_REQUEST');

    if (!LIVE) {
      t.diagnostic(NOT_RUN);
      console.log(NOT_RUN);
    }
  });
});

if (LIVE) {
  const env = cassandraOptionsFromEnv();
  const dc = env.localDataCenter ?? 'datacenter1';
  const options = { ...env, localDataCenter: dc, replicationFactor: Number(process.env.CASSANDRA_REPLICATION_FACTOR ?? 1) };
  const provisioners: CassandraProvisioner[] = [];
  const provisioner = () => {
    const p = new CassandraProvisioner(options);
    provisioners.push(p);
    return p;
  };
  after(() => Promise.all(provisioners.map((p) => p.close())));

  /** Logs in with the credentials and reads the time: false once the role is gone. */
  const answers = async (credentials: Record<string, unknown>) => {
    const client = await openCassandraClient({ credentials: credentials as CassandraCredentials, site: dc });
    try {
      await client.execute('SELECT now() FROM system.local');
      return true;
    } catch {
      return false;
    } finally {
      await client.shutdown();
    }
  };

  conformance('cassandra', {
    provisioner,
    spec: { sites: [dc] },
    runsOnPlatform: false,
    failover: 'refused',
    answers,
    timeoutMs: 30_000,
    checkCredentials(credentials, spec) {
      const c = credentials as CassandraCredentials;
      assert.ok(c.contactPoints.length > 0);
      assert.match(c.keyspace, /^sq_/);
      assert.equal(c.user, c.keyspace);
      assert.ok(c.password.length >= 16);
      assert.deepEqual(Object.keys(c.localDataCenter), spec.sites);
    },
  });

  describe('cassandra on a live cluster', () => {
    const root = mkdtempSync(join(tmpdir(), 'squadron-cassandra-live-'));
    after(() => rmSync(root, { recursive: true, force: true }));

    it('creates a keyspace over the sites that the role owns, reads and writes at LOCAL_QUORUM, and drops both', async () => {
      const p = provisioner();
      const spec: StorageSpec = { name: `live-${Date.now().toString(36)}`, kind: 'cassandra', service: 'orders', squad: 'shop', sites: [dc], primary: dc, sync: false };
      const ctx = { dir: join(root, spec.name), log: silent };
      mkdirSync(ctx.dir, { recursive: true });
      const state = await p.create(spec, ctx);
      after(() => p.destroy(spec, state, ctx).catch(() => undefined));
      const d = await p.describe(spec, state, ctx);
      assert.equal(d.sites[0]!.up, true);
      assert.equal((d.facts.replication as Record<string, string>)[dc], String(options.replicationFactor));
      assert.match(String((d.facts.replication as Record<string, string>).class), /NetworkTopologyStrategy/);

      const db = await openCassandraClient({ credentials: p.credentials(spec, state), site: dc });
      after(() => db.shutdown());
      await db.execute('CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, total int)');
      await db.execute('INSERT INTO orders (id, total) VALUES (?, ?)', ['o-1', 42]);
      const result = await db.execute('SELECT total FROM orders WHERE id = ?', ['o-1']);
      assert.equal(result.first()?.get('total'), 42);
      assert.equal(result.info.achievedConsistency, driver.types.consistencies.localQuorum);
      await assert.rejects(db.execute(`CREATE KEYSPACE ${state.keyspace}_other WITH replication = {'class': 'NetworkTopologyStrategy', '${dc}': 1}`), 'the role makes no keyspace of its own');

      await p.destroy(spec, state, ctx);
      const gone = await p.describe(spec, state, ctx);
      assert.equal(gone.facts.exists, false, 'the keyspace is dropped');
    });
  });
}
