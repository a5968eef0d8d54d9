import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freshPostgresDatabase } from '@squadron/testkit';
import type { Db, Migration } from '../src/state/db.ts';
import { migrate } from '../src/state/migrate.ts';
import { openStateStore } from '../src/state/open-state.ts';
import { PostgresDb } from '../src/state/postgres-db.ts';
import { MIGRATIONS } from '../src/state/schema.ts';

/** Every version the schema has, and the one a test migration takes after them. */
const ALL = MIGRATIONS.map((m) => m.version);
const NEXT = ALL.at(-1)! + 1;
import { SqliteDb, toNumberedPlaceholders } from '../src/state/sqlite-db.ts';
import { StateStoreError } from '../src/state/state-errors.ts';

/** One empty store for one test: where it is, and how to remove it afterwards. */
interface Place {
  where: string;
  remove(): Promise<void>;
}

interface Target {
  dialect: 'sqlite' | 'postgres';
  fresh(label: string): Promise<Place>;
  /** A bare connection, schema not migrated. */
  connect(where: string): Db;
}

const targets: Target[] = [
  {
    dialect: 'sqlite',
    async fresh() {
      const dir = mkdtempSync(join(tmpdir(), 'squadron-state-'));
      return {
        // A directory that does not exist yet: openStateStore creates it.
        where: join(dir, 'nested', 'state.db'),
        async remove() {
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
    connect: (where) => {
      mkdirSync(dirname(where), { recursive: true });
      return new SqliteDb(where);
    },
  },
  {
    dialect: 'postgres',
    async fresh(label) {
      const database = await freshPostgresDatabase(label);
      return { where: database.url, remove: () => database.drop() };
    },
    connect: (where) => new PostgresDb(where),
  },
];

/** Lets other queued work run: a turn of the event loop, never a timed wait. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function tableNames(db: Db): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    db.dialect === 'sqlite'
      ? "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
      : 'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name',
  );
  return rows.map((r) => r.name);
}

async function versions(db: Db): Promise<number[]> {
  return (await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version);
}

async function addSquad(db: Pick<Db, 'query'>, name: string, at = Date.now()): Promise<void> {
  await db.query('INSERT INTO squads (name, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4)', [name, `hash-${name}`, at, 'test']);
}

async function count(db: Pick<Db, 'query'>, table: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`);
  return row!.n;
}

for (const target of targets) {
  describe(`state store on ${target.dialect}`, () => {
    let place: Place;
    let opened: Db[] = [];
    let serial = 0;

    /** Every store a test opens is closed after it, even when the test fails. */
    const open = async (): Promise<Db> => {
      const db = await openStateStore(place.where);
      opened.push(db);
      return db;
    };
    const connect = (): Db => {
      const db = target.connect(place.where);
      opened.push(db);
      return db;
    };
    const closeAll = async () => {
      await Promise.all(opened.map((db) => db.close()));
      opened = [];
    };

    beforeEach(async () => {
      place = await target.fresh(`state ${target.dialect} ${++serial}`);
    });
    afterEach(async () => {
      await closeAll();
      await place.remove();
    });

    it('applies the schema once, records it, and applies nothing when reopened', async () => {
      if (target.dialect === 'sqlite') {
        // openStateStore creates the directory of the file.
        assert.equal(existsSync(place.where), false);
      }
      const before = Date.now();
      const db = await open();
      const rows = await db.query<{ version: number; name: string; applied_at: number }>('SELECT * FROM schema_migrations ORDER BY version');
      assert.deepEqual(rows.map((r) => [r.version, r.name]), MIGRATIONS.map((m) => [m.version, m.name]));
      const appliedAt = rows[0]!.applied_at;
      assert.ok(appliedAt >= before && appliedAt <= Date.now(), `applied_at ${appliedAt}`);
      await addSquad(db, 'kept');
      await closeAll();

      const again = await open();
      const after = await again.query<{ version: number; applied_at: number }>('SELECT version, applied_at FROM schema_migrations ORDER BY version');
      assert.deepEqual(after.map((r) => r.version), ALL);
      assert.equal(after[0]!.applied_at, appliedAt);
      assert.equal(await count(again, 'squads'), 1, 'reopening keeps the data');
      assert.deepEqual(await migrate(again, MIGRATIONS), [], 'nothing left to apply');
    });

    it('returns the versions a migration run applied', async () => {
      const db = connect();
      const next: Migration = { version: NEXT, name: 'notes', sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)' };
      assert.deepEqual(await migrate(db, MIGRATIONS), ALL);
      assert.deepEqual(await migrate(db, [...MIGRATIONS, next]), [NEXT]);
      assert.deepEqual(await migrate(db, [...MIGRATIONS, next]), []);
      assert.deepEqual(await versions(db), [...ALL, NEXT]);
    });

    it('migrates once when several processes start at the same time', async () => {
      const applied = await Promise.all([migrate(connect(), MIGRATIONS), migrate(connect(), MIGRATIONS)]);
      assert.deepEqual(applied.flat().sort((a, b) => a - b), ALL, 'each version applied once, by one of them');
      assert.deepEqual(await versions(connect()), ALL);
    });

    it('creates every table of the schema', async () => {
      const db = await open();
      const tables = await tableNames(db);
      for (const table of ['squads', 'services', 'releases', 'agents', 'instances', 'audit', 'schema_migrations']) {
        assert.ok(tables.includes(table), `table ${table} in ${tables.join(', ')}`);
      }
    });

    it('refuses a store that a newer Squadron has migrated', async () => {
      const db = await open();
      await db.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [NEXT, 'from the future', Date.now()]);
      await closeAll();

      await assert.rejects(open(), (err: unknown) => {
        assert.ok(err instanceof StateStoreError, String(err));
        assert.equal(err.name, 'StateStoreError');
        assert.match(err.message, new RegExp(`${NEXT} \\(from the future\\)`));
        assert.match(err.message, /newer Squadron/);
        return true;
      });
      const bare = connect();
      await assert.rejects(migrate(bare, MIGRATIONS), StateStoreError);
      assert.deepEqual(await versions(bare), [...ALL, NEXT], 'the store is left as it was');
    });

    it('leaves nothing of a migration that fails', async () => {
      const db = connect();
      await migrate(db, MIGRATIONS);
      const broken: Migration = {
        version: NEXT,
        name: 'half done',
        sql: 'CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table (x) VALUES (1)',
      };
      await assert.rejects(migrate(db, [...MIGRATIONS, broken]), (err: unknown) => {
        assert.ok(err instanceof StateStoreError, String(err));
        assert.match(err.message, new RegExp(`migration ${NEXT} \\(half done\\) failed`));
        assert.ok(err.cause, 'the driver error is kept as the cause');
        return true;
      });
      assert.equal((await tableNames(db)).includes('half_done'), false, 'the table created before the failure is gone');
      assert.deepEqual(await versions(db), ALL);

      const fixed: Migration = { version: NEXT, name: 'half done, fixed', sql: 'CREATE TABLE half_done (x INTEGER)' };
      assert.deepEqual(await migrate(db, [...MIGRATIONS, fixed]), [NEXT]);
    });

    it('binds $n parameters by number, in any order and more than once', async () => {
      const db = await open();
      await db.query('INSERT INTO squads (created_by, name, token_hash, created_at) VALUES ($2, $1, $3, $4)', ['payments', 'alice', 'h1', 1]);
      await addSquad(db, 'billing');
      const rows = await db.query<{ name: string; created_by: string; literal: string }>(
        "SELECT name, created_by, '$1 stays as written' AS literal FROM squads WHERE name = $1 OR created_by = $1 ORDER BY name",
        ['payments'],
      );
      assert.deepEqual(rows, [{ name: 'payments', created_by: 'alice', literal: '$1 stays as written' }]);
      assert.deepEqual(await db.query('SELECT name FROM squads WHERE name = $1', ['nobody']), []);
      await assert.rejects(db.query('SELECT name FROM squads WHERE name = $1 AND created_by = $2', ['payments']), StateStoreError);
      assert.deepEqual(await db.query("UPDATE squads SET created_by = $1 WHERE name = 'billing'", ['bob']), [], 'no rows from a statement that returns none');
      assert.deepEqual(
        await db.query('UPDATE squads SET created_by = $1 WHERE name = $2 RETURNING name, created_by', ['carol', 'billing']),
        [{ name: 'billing', created_by: 'carol' }],
      );
    });

    it('returns BIGINT and INTEGER values as numbers', async () => {
      const db = await open();
      const now = Date.now();
      await addSquad(db, 'payments', now);
      await addSquad(db, 'billing', Number.MAX_SAFE_INTEGER);
      const [row] = await db.query<{ created_at: number }>('SELECT created_at FROM squads WHERE name = $1', ['payments']);
      assert.equal(row!.created_at, now);
      const [big] = await db.query<{ created_at: number }>('SELECT created_at FROM squads WHERE name = $1', ['billing']);
      assert.equal(big!.created_at, Number.MAX_SAFE_INTEGER);
      const [agg] = await db.query<{ n: number; total: number }>('SELECT COUNT(*) AS n, SUM(created_at) AS total FROM squads WHERE name = $1', ['payments']);
      assert.deepEqual(agg, { n: 1, total: now });
      const [audit] = await db.query<{ id: number; at: number }>(
        'INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id, at',
        [now, 'admin', 'squad.create', 'payments', '{}'],
      );
      assert.equal(typeof audit!.id, 'number');
      assert.equal(audit!.at, now);
    });

    it('writes nothing of a transaction that throws', async () => {
      const db = await open();
      const boom = new Error('boom');
      await assert.rejects(
        db.tx(async (q) => {
          await addSquad(q, 'payments');
          assert.equal(await count(q, 'squads'), 1, 'visible inside the transaction');
          throw boom;
        }),
        (err) => err === boom,
      );
      assert.equal(await count(db, 'squads'), 0);

      // A refused statement rolls back what the transaction wrote before it.
      await assert.rejects(
        db.tx(async (q) => {
          await addSquad(q, 'billing');
          await addSquad(q, 'billing');
        }),
        (err: unknown) => err instanceof StateStoreError && err.violation === 'unique',
      );
      assert.equal(await count(db, 'squads'), 0);
    });

    it('commits every write of a transaction that succeeds', async () => {
      const db = await open();
      const result = await db.tx(async (q) => {
        await addSquad(q, 'payments');
        await q.query('INSERT INTO services (name, squad, created_at) VALUES ($1, $2, $3)', ['ledger', 'payments', Date.now()]);
        return 'done';
      });
      assert.equal(result, 'done');
      assert.equal(await count(db, 'squads'), 1);
      // Committed: another connection to the same store sees it.
      const other = connect();
      assert.deepEqual(await other.query('SELECT name, squad FROM services'), [{ name: 'ledger', squad: 'payments' }]);
    });

    it('serializes concurrent transactions that read, then write', async () => {
      const db = await open();
      // Two connections to one store stand for two control plane processes.
      const other = connect();
      await db.exec('CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter (id, n) VALUES (1, 0)');
      const increment = (store: Db) =>
        store.tx(async (q) => {
          const [row] = await q.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
          await turn(); // give every other transaction the chance to read the same value
          await q.query('UPDATE counter SET n = $1 WHERE id = 1', [row!.n + 1]);
        });
      await Promise.all(Array.from({ length: 12 }, (_, i) => increment(i % 2 === 0 ? db : other)));
      const [row] = await db.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
      assert.equal(row!.n, 12);
    });

    it('never shows a transaction\'s uncommitted writes to a query made meanwhile', async () => {
      const db = await open();
      let inserted!: () => void;
      const insertedP = new Promise<void>((resolve) => (inserted = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const txDone = db.tx(async (q) => {
        await addSquad(q, 'payments');
        inserted();
        await gate;
      });
      await insertedP;
      let answered = false;
      const outside = db.query<{ n: number }>('SELECT COUNT(*) AS n FROM squads').then((rows) => {
        answered = true;
        return rows[0]!.n;
      });
      if (target.dialect === 'sqlite') {
        // One shared connection: the query waits for the transaction instead of running inside it.
        for (let i = 0; i < 20; i++) await turn();
        assert.equal(answered, false, 'the query waits while the transaction is open');
        release();
        await txDone;
        assert.equal(await outside, 1, 'it runs after the commit');
      } else {
        // Another pooled connection: it answers at once, from committed state only.
        assert.equal(await outside, 0);
        release();
        await txDone;
        assert.equal(await count(db, 'squads'), 1);
      }
    });

    it('refuses using the store itself inside its own transaction, instead of waiting forever', async () => {
      const db = await open();
      let leaked: Pick<Db, 'query'> | undefined;
      await assert.rejects(
        db.tx(async (q) => {
          leaked = q;
          await db.query('SELECT 1 AS one');
        }),
        (err: unknown) => err instanceof StateStoreError && /Queryable passed to the transaction/.test(err.message),
      );
      await assert.rejects(db.tx(() => db.tx(async () => 1)), StateStoreError);
      // A transaction's Queryable ends with it.
      await assert.rejects(leaked!.query('SELECT 1 AS one'), /after the transaction ended/);
      // And the store still works.
      assert.deepEqual(await db.query('SELECT 1 AS one'), [{ one: 1 }]);
    });

    it('enforces foreign keys', async () => {
      const db = await open();
      await assert.rejects(
        db.query('INSERT INTO services (name, squad, created_at) VALUES ($1, $2, $3)', ['ledger', 'ghost', Date.now()]),
        (err: unknown) => {
          assert.ok(err instanceof StateStoreError, String(err));
          assert.equal(err.violation, 'foreign_key');
          assert.ok(err.cause, 'the driver error is kept as the cause');
          return true;
        },
      );
      assert.equal(await count(db, 'services'), 0);
    });

    it('refuses queries once closed', async () => {
      const db = await open();
      await db.close();
      await assert.rejects(db.query('SELECT 1 AS one'), (err: unknown) => err instanceof StateStoreError && /closed/.test(err.message));
      await db.close(); // closing twice is harmless
    });
  });
}

describe('state store connection failures', () => {
  it('names a PostgreSQL URL without its password and says what to check', async () => {
    await assert.rejects(openStateStore('postgres://squadron:s3cret@127.0.0.1:1/state'), (err: unknown) => {
      assert.ok(err instanceof StateStoreError, String(err));
      assert.match(err.message, /postgres:\/\/squadron:\*\*\*@127\.0\.0\.1:1\/state/);
      assert.doesNotMatch(err.message, /s3cret/);
      assert.match(err.message, /check that PostgreSQL is running/);
      assert.ok(err.cause, 'the driver error is kept as the cause');
      return true;
    });
  });

  it('says when the PostgreSQL database does not exist', async () => {
    const database = await freshPostgresDatabase('state missing');
    await database.drop();
    await assert.rejects(openStateStore(database.url), /check the database name in the URL, or create the database/);
  });

  it('says when a SQLite file is not a database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squadron-state-'));
    try {
      const file = join(dir, 'state.db');
      writeFileSync(file, 'this is not a SQLite database, it is just some text that is long enough to have a header');
      await assert.rejects(openStateStore(file), (err: unknown) => {
        assert.ok(err instanceof StateStoreError, String(err));
        assert.match(err.message, /cannot open the SQLite state store at .*state\.db/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('$n placeholders for SQLite', () => {
  it('become ?n outside literals, quoted names and comments', () => {
    assert.deepEqual(
      toNumberedPlaceholders(`SELECT "a$1", 'it''s $2', $2 -- $9\n FROM t /* $8 */ WHERE x = $10 AND y = $1`),
      { text: `SELECT "a$1", 'it''s $2', ?2 -- $9\n FROM t /* $8 */ WHERE x = ?10 AND y = ?1`, count: 10 },
    );
  });
});
