import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, silent } from '@squadron/testkit';
import {
  CassandraProvisioner, StorageError, cassandraCreateStatements, cassandraDestroyStatements, cassandraOptionsFromEnv, type CassandraState, type StorageSpec,
} from '../src/index.ts';

const spec = (name: string, sites = ['sto', 'gcp-eu']): StorageSpec => ({ name, kind: 'cassandra', service: 'orders', squad: 'shop', sites, primary: sites[0]!, sync: false });
const badRequest = (pattern: RegExp) => (err: unknown) => err instanceof StorageError && err.code === 'BAD_REQUEST' && pattern.test(err.message);
const PASSWORD = 'Zm9vYmFyYmF6cXV4cXV1eA';

describe('cassandra statements', () => {
  it('make a keyspace replicated to every site, a role that logs in, and its grants', () => {
    const plan = new CassandraProvisioner({ contactPoints: ['10.1.0.1'] }).plan(spec('orders-eu'));
    assert.deepEqual(cassandraCreateStatements(plan, PASSWORD), [
      `CREATE KEYSPACE IF NOT EXISTS "sq_orders_eu" WITH replication = {'class': 'NetworkTopologyStrategy', 'sto': 3, 'gcp-eu': 3}`,
      `CREATE ROLE IF NOT EXISTS "sq_orders_eu" WITH PASSWORD = '${PASSWORD}' AND LOGIN = true`,
      `ALTER ROLE "sq_orders_eu" WITH PASSWORD = '${PASSWORD}'`,
      'GRANT CREATE ON KEYSPACE "sq_orders_eu" TO "sq_orders_eu"',
      'GRANT ALTER ON KEYSPACE "sq_orders_eu" TO "sq_orders_eu"',
      'GRANT DROP ON KEYSPACE "sq_orders_eu" TO "sq_orders_eu"',
      'GRANT SELECT ON KEYSPACE "sq_orders_eu" TO "sq_orders_eu"',
      'GRANT MODIFY ON KEYSPACE "sq_orders_eu" TO "sq_orders_eu"',
    ]);
    assert.deepEqual(cassandraDestroyStatements(plan), ['DROP KEYSPACE IF EXISTS "sq_orders_eu"', 'DROP ROLE IF EXISTS "sq_orders_eu"']);
  });

  it('take a replication factor for each site, the cluster\'s data centre names and a prefix', () => {
    const p = new CassandraProvisioner({
      contactPoints: ['10.1.0.1'], replicationFactor: { sto: 5, 'gcp-eu': 2 }, dataCenters: { 'gcp-eu': 'europe-west1' }, keyspacePrefix: 'team_',
    });
    const plan = p.plan(spec('carts'));
    assert.deepEqual(plan, { keyspace: 'team_carts', role: 'team_carts', replication: { sto: 5, 'europe-west1': 2 } });
    assert.equal(cassandraCreateStatements(plan, PASSWORD)[0], `CREATE KEYSPACE IF NOT EXISTS "team_carts" WITH replication = {'class': 'NetworkTopologyStrategy', 'sto': 5, 'europe-west1': 2}`);
  });

  it('refuse names, data centres, factors and passwords that are not safe to write into CQL', () => {
    const p = (options = {}) => new CassandraProvisioner({ contactPoints: ['10.1.0.1'], ...options });
    for (const name of ['Orders', 'orders_eu', '9lives', 'a"; DROP KEYSPACE system; --', 'x y', '']) {
      assert.throws(() => p().plan(spec(name)), badRequest(/lower-case letters, digits and dashes/), name);
    }
    assert.throws(() => p().plan(spec('a'.repeat(46))), badRequest(/longer than Cassandra's 48/));
    assert.doesNotThrow(() => p().plan(spec('a'.repeat(45))));
    assert.throws(() => p({ keyspacePrefix: 'Sq-' }).plan(spec('orders')), badRequest(/not a CQL name/));
    assert.throws(() => p().plan(spec('orders', [])), badRequest(/at least one site/));
    assert.throws(() => cassandraCreateStatements(p({ dataCenters: { sto: "dc1', 'class': 'SimpleStrategy" } }).plan(spec('orders', ['sto'])), PASSWORD), badRequest(/cannot name a data centre/));
    for (const rf of [0, 1.5, 33]) {
      assert.throws(() => cassandraCreateStatements(p({ replicationFactor: rf }).plan(spec('orders')), PASSWORD), badRequest(/whole number from 1 to 32/), String(rf));
    }
    assert.throws(() => cassandraCreateStatements({ keyspace: 'sq_x', role: 'SQ_X"', replication: { sto: 1 } }, PASSWORD), badRequest(/not a keyspace or role name/));
    assert.throws(() => cassandraCreateStatements({ keyspace: 'sq_x', role: 'sq_x', replication: { sto: 1 } }, 'short'), badRequest(/at least 16/));
    // A quote in a password is doubled, so it stays inside its literal.
    assert.match(cassandraCreateStatements({ keyspace: 'sq_x', role: 'sq_x', replication: { sto: 1 } }, "it's-a-long-password")[1]!, /PASSWORD = 'it''s-a-long-password' AND LOGIN = true$/);
  });
});

describe('cassandra provisioner without a cluster', () => {
  const root = mkdtempSync(join(tmpdir(), 'squadron-cassandra-'));
  const provisioners: CassandraProvisioner[] = [];
  after(async () => {
    await Promise.all(provisioners.map((p) => p.close()));
    rmSync(root, { recursive: true, force: true });
  });
  const make = (options: ConstructorParameters<typeof CassandraProvisioner>[0]) => {
    const p = new CassandraProvisioner(options);
    provisioners.push(p);
    return p;
  };

  it('reads its cluster from the environment', () => {
    assert.deepEqual(cassandraOptionsFromEnv({ CASSANDRA_CONTACT_POINTS: ' 10.1.0.1, 10.1.0.2:9043 ,', CASSANDRA_LOCAL_DC: 'sto', CASSANDRA_USER: 'admin', CASSANDRA_PASSWORD: 'pw' }), {
      contactPoints: ['10.1.0.1', '10.1.0.2:9043'], localDataCenter: 'sto', user: 'admin', password: 'pw',
    });
    assert.deepEqual(cassandraOptionsFromEnv({}), {});
  });

  it('says where to name the cluster when none is named', async () => {
    await assert.rejects(make({}).create(spec('orders'), { dir: join(root, 'none'), log: silent }), badRequest(/cassandra\.contactPoints.*CASSANDRA_CONTACT_POINTS/));
  });

  it('fails with STORAGE_UNAVAILABLE naming the cluster it cannot reach, leaves nothing, and describes every site down', async () => {
    const contactPoint = `127.0.0.1:${await freePort()}`;
    const p = make({ contactPoints: [contactPoint], connectTimeoutMs: 1_000 });
    const ctx = { dir: join(root, 'unreachable'), log: silent };
    const started = Date.now();
    await assert.rejects(p.create(spec('orders'), ctx), (err: unknown) =>
      err instanceof StorageError && err.code === 'STORAGE_UNAVAILABLE' && err.message.includes(contactPoint) && /CASSANDRA_CONTACT_POINTS/.test(err.message));
    assert.ok(Date.now() - started < 10_000, 'it gives up within the connect timeout');
    assert.equal(existsSync(join(ctx.dir, 'cassandra-password')), false, 'no password kept');

    const state: CassandraState = {
      keyspace: 'sq_orders', role: 'sq_orders', replication: { sto: 3, 'gcp-eu': 3 }, contactPoints: [contactPoint], password: PASSWORD, dataCenters: { sto: 'sto', 'gcp-eu': 'gcp-eu' },
    };
    const d = await p.describe(spec('orders'), state, ctx);
    assert.deepEqual(d.sites.map((s) => [s.site, s.up]), [['sto', false], ['gcp-eu', false]]);
    assert.match(d.sites[0]!.detail!, /cannot reach the Cassandra cluster/);
  });

  it('hands out the keyspace, the role, and a data centre for each site; refuses failover', async () => {
    const p = make({ contactPoints: ['10.1.0.1'] });
    const state: CassandraState = {
      keyspace: 'sq_orders', role: 'sq_orders', replication: { sto: 3, 'europe-west1': 3 }, contactPoints: ['10.1.0.1'], password: PASSWORD, dataCenters: { sto: 'sto', 'gcp-eu': 'europe-west1' },
    };
    assert.deepEqual(p.credentials(spec('orders'), state), {
      contactPoints: ['10.1.0.1'], keyspace: 'sq_orders', user: 'sq_orders', password: PASSWORD, localDataCenter: { sto: 'sto', 'gcp-eu': 'europe-west1' },
    });
    await assert.rejects(p.failover(spec('orders'), state, { dir: root, log: silent }), (err: unknown) => err instanceof StorageError && err.code === 'NOT_SUPPORTED');
  });
});
