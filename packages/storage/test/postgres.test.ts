import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { waitFor, silent } from '@squadron/testkit';
import {
  PostgresProvisioner, postgresPool, locatePostgresBinaries, StorageError,
  type PostgresState, type ProvisionContext, type StorageSpec,
} from '../src/index.ts';

// Real PostgreSQL servers from the machine's server programs (postgresql-15), two sites each.
const root = mkdtempSync(join(tmpdir(), 'squadron-postgres-'));
const provisioner = new PostgresProvisioner({ failover: { probeIntervalMs: 100, probeTimeoutMs: 500, failAfterMs: 1_000 } });
const cleanups: Array<() => Promise<void>> = [];

after(async () => {
  for (const cleanup of cleanups) await cleanup();
  rmSync(root, { recursive: true, force: true });
});

/** A 2-site resource named after the test, destroyed after the file whatever happens. */
async function resource(title: string, sync: boolean, log: ProvisionContext['log'] = silent): Promise<{ spec: StorageSpec; ctx: ProvisionContext; state: PostgresState; pool: pg.Pool }> {
  const name = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 30).replace(/-$/, '');
  const spec: StorageSpec = { name, kind: 'postgres', service: 'orders', squad: 'shop', sites: ['sto', 'gcp-eu'], primary: 'sto', sync };
  const ctx = { dir: join(root, name), log };
  mkdirSync(ctx.dir);
  const state = await provisioner.create(spec, ctx);
  const pool = await postgresPool(() => provisioner.credentials(spec, state), { connectionTimeoutMillis: 1_000 });
  cleanups.push(async () => {
    await pool.end().catch(() => {});
    await provisioner.destroy(spec, provisioner.stateOf(name) ?? state, ctx).catch(() => {});
  });
  return { spec, ctx, state, pool };
}

/** A direct connection to one site's server as the resource's role. */
async function connectTo(spec: StorageSpec, state: PostgresState, site: string): Promise<pg.Client> {
  const c = provisioner.credentials(spec, state);
  const at = c.hosts[site];
  assert.ok(at, `credentials list a host for ${site}`);
  const client = new pg.Client({ ...at, user: c.user, password: c.password, database: c.database });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** The process that receives the WAL on a standby: freezing it stops the standby's acknowledgements. */
async function walReceiverPid(state: PostgresState, site: string): Promise<number> {
  assert.ok(state.mode === 'embedded');
  const admin = new pg.Client({ host: '127.0.0.1', port: state.servers[site]!.port, user: 'postgres', password: state.adminPassword, database: 'postgres' });
  await admin.connect();
  try {
    return await waitFor(async () => (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_wal_receiver')).rows[0]?.pid, `the WAL receiver of ${site}`, 5_000, 20);
  } finally {
    await admin.end();
  }
}

/** A statement that may be held (synchronous commit), with a flag that says whether it returned. */
function tracked(promise: Promise<unknown>): { done: () => boolean; promise: Promise<unknown> } {
  let settled = false;
  const p = promise.finally(() => (settled = true));
  return { done: () => settled, promise: p };
}

describe('postgres: a primary and a streaming standby on this machine', () => {
  it('the standby serves what the primary wrote (hot standby), read-only', async () => {
    const { spec, ctx, state, pool } = await resource('hot standby', false);
    assert.equal(state.primary, 'sto');
    const credentials = provisioner.credentials(spec, state);
    assert.deepEqual(Object.keys(credentials.hosts), ['sto', 'gcp-eu']);
    assert.match(credentials.url, /^postgres:\/\/sq_hot_standby:[^@]+@127\.0\.0\.1:\d+\/sq_hot_standby$/);

    await pool.query('CREATE TABLE orders (id int PRIMARY KEY, item text)');
    await pool.query(`INSERT INTO orders VALUES (1, 'tea')`);
    const standby = await connectTo(spec, state, 'gcp-eu');
    try {
      const row = await waitFor(async () => (await standby.query('SELECT item FROM orders WHERE id = 1')).rows[0], 'the row on the standby', 5_000, 20);
      assert.deepEqual(row, { item: 'tea' });
      await assert.rejects(standby.query(`INSERT INTO orders VALUES (2, 'coffee')`), (err: { code?: string }) => err.code === '25006');
    } finally {
      await standby.end();
    }

    const described = await provisioner.describe(spec, state, ctx);
    assert.deepEqual(described.sites.map((s) => [s.site, s.role, s.up]), [['sto', 'primary', true], ['gcp-eu', 'standby', true]]);
    assert.equal(typeof described.sites[1]?.lag, 'number', 'the standby reports its lag in bytes');
    assert.equal(described.facts.primary, 'sto');
  });

  it('failover on command: the other site takes writes and the old primary comes back as its standby', async () => {
    const { spec, ctx, state, pool } = await resource('command failover', false);
    await pool.query('CREATE TABLE ledger (id int PRIMARY KEY)');
    await pool.query('INSERT INTO ledger VALUES (1)');

    const moved = await provisioner.failover(spec, state, ctx);
    assert.equal(moved.primary, 'gcp-eu');
    assert.ok(moved.mode === 'embedded' && moved.lastFailover?.reason === 'command');
    // The pool finds the new primary by itself.
    await waitFor(async () => (await pool.query('INSERT INTO ledger VALUES (2)')).rowCount === 1, 'a write through the pool after the failover', 10_000, 50);
    assert.deepEqual((await pool.query('SELECT id FROM ledger ORDER BY id')).rows, [{ id: 1 }, { id: 2 }], 'nothing lost in a switchover');
    await waitFor(async () => {
      const d = await provisioner.describe(spec, moved, ctx);
      return d.sites.find((s) => s.site === 'sto')?.detail?.startsWith('streaming');
    }, 'the old primary streaming as a standby', 10_000, 50);
    const old = await connectTo(spec, moved, 'sto');
    try {
      await waitFor(async () => (await old.query('SELECT count(*)::int AS n FROM ledger')).rows[0]?.n === 2, 'the new write on the old primary', 5_000, 20);
    } finally {
      await old.end();
    }

    await assert.rejects(provisioner.failover(spec, moved, ctx, 'gcp-eu'), (err: unknown) => err instanceof StorageError && err.code === 'CONFLICT');
    await assert.rejects(provisioner.failover(spec, moved, ctx, 'mars'), (err: unknown) => err instanceof StorageError && err.code === 'NOT_FOUND');
    const back = await provisioner.failover(spec, moved, ctx, 'sto');
    assert.equal(back.primary, 'sto');
    assert.ok(back.mode === 'embedded' && back.failovers === 2);
  });

  it('without --sync a commit does not wait for a standby that cannot confirm it; a killed standby comes back', async () => {
    const { spec, ctx, state, pool } = await resource('async standby', false);
    await pool.query('CREATE TABLE t (id int PRIMARY KEY)');
    const receiver = await walReceiverPid(state, 'gcp-eu');
    process.kill(receiver, 'SIGSTOP');
    try {
      await pool.query('INSERT INTO t VALUES (1)');
    } finally {
      process.kill(receiver, 'SIGCONT');
    }

    const standbyPid = provisioner.pidOf(spec.name, 'gcp-eu');
    assert.ok(standbyPid);
    process.kill(standbyPid, 'SIGKILL');
    await waitFor(async () => {
      const pid = provisioner.pidOf(spec.name, 'gcp-eu');
      const d = await provisioner.describe(spec, state, ctx);
      return pid !== undefined && pid !== standbyPid && d.sites[1]?.detail?.startsWith('streaming');
    }, 'the killed standby back and streaming', 15_000, 50);
  });

  it('with --sync a commit waits for the standby: held while its WAL receiver is frozen, returned once it runs again', async () => {
    const { spec, state, pool } = await resource('sync commit', true);
    await pool.query('CREATE TABLE t (id int PRIMARY KEY)');
    const receiver = await walReceiverPid(state, 'gcp-eu');
    const watcher = await connectTo(spec, state, 'sto');
    process.kill(receiver, 'SIGSTOP');
    let insert: ReturnType<typeof tracked> | undefined;
    try {
      insert = tracked(pool.query('INSERT INTO t VALUES (1)'));
      // The primary shows the commit waiting for the standby's acknowledgement.
      await waitFor(async () => (await watcher.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'SyncRep'`)).rows[0]?.n === 1,
        'the commit waiting for synchronous replication', 5_000, 20);
      assert.equal(insert.done(), false, 'the commit is not acknowledged while the standby cannot confirm it');
    } finally {
      process.kill(receiver, 'SIGCONT');
    }
    await insert.promise;
    assert.equal((await watcher.query('SELECT count(*)::int AS n FROM t')).rows[0]?.n, 1);
    await watcher.end();
  });
});

describe('postgres: a busy machine', () => {
  it('a primary and a standby that run but do not answer are neither failed over nor said to be down', async () => {
    const warnings: Array<{ msg: string; err?: string }> = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as { msg: string; err?: string }) });
    const { spec, pool } = await resource('frozen servers', false, log);
    // A frozen postmaster takes no new connection: the monitor's probes go unanswered, as on a machine too busy to serve them in time.
    const frozen = ['sto', 'gcp-eu'].map((site) => provisioner.pidOf(spec.name, site)!);
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    try {
      const said = await waitFor(() => warnings.find((w) => w.msg.startsWith('no failover possible')), 'the monitor to find no standby to take over', 10_000, 20);
      assert.equal(said.msg, 'no failover possible; waiting for the primary (still running) or a standby to answer');
      assert.match(said.err ?? '', /^no standby of frozen-servers answers to take over/);
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
    }
    assert.deepEqual(frozen.map((pid, n) => provisioner.pidOf(spec.name, ['sto', 'gcp-eu'][n]!) === pid), [true, true], 'neither server was restarted');
    const now = provisioner.stateOf(spec.name);
    assert.ok(now?.mode === 'embedded');
    assert.equal(now.primary, 'sto', 'nor failed over');
    await waitFor(async () => (await pool.query('SELECT 1 AS one')).rows[0]?.one === 1, 'the primary to answer again', 10_000, 100);
  });
});

describe('postgres: refusals', () => {
  it('without the server programs: MISSING_BINARY naming the package to install', async () => {
    const empty = mkdtempSync(join(root, 'no-binaries-'));
    assert.throws(() => locatePostgresBinaries([empty]), (err: unknown) =>
      err instanceof StorageError && err.code === 'MISSING_BINARY' && err.message.includes('postgresql-15') && err.message.includes('initdb'));
    const p = new PostgresProvisioner({ binaryDirs: [empty] });
    const spec: StorageSpec = { name: 'nobin', kind: 'postgres', service: 's', squad: 'q', sites: ['sto'], primary: 'sto', sync: false };
    await assert.rejects(p.create(spec, { dir: join(root, 'nobin'), log: silent }), (err: unknown) =>
      err instanceof StorageError && err.code === 'MISSING_BINARY' && /postgresql-15.*postgresql/.test(err.message));
  });

  it('a spec it cannot serve: BAD_REQUEST naming each field to change', async () => {
    const spec: StorageSpec = { name: 'Bad_Name', kind: 'postgres', service: 's', squad: 'q', sites: ['sto', 'sto'], primary: 'aws', sync: false };
    await assert.rejects(provisioner.create(spec, { dir: join(root, 'bad'), log: silent }), (err: unknown) =>
      err instanceof StorageError && err.code === 'BAD_REQUEST' && /name 'Bad_Name'/.test(err.message) && /repeat/.test(err.message) && /primary 'aws'/.test(err.message));
  });
});
