import type { Db, Migration } from './db.ts';
import { StateStoreError, driverMessage } from './state-errors.ts';

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

/**
 * Brings the store's schema up to `migrations`, each missing one applied in its own transaction
 * together with its row in `schema_migrations`, so a migration is either wholly there or not at
 * all. Several processes may start at once: transactions are serialized and each re-reads what
 * is applied. Refuses a store that has a version this code does not know: a newer Squadron wrote
 * it, and running older code against it could lose what the newer one keeps.
 * Returns the versions this call applied, in order.
 */
export async function migrate(db: Db, migrations: readonly Migration[]): Promise<number[]> {
  checkOrder(migrations);
  const known = new Set(migrations.map((m) => m.version));
  const applied: number[] = [];
  const done = await db.tx(async (q) => {
    await q.exec(CREATE_TABLE);
    return appliedVersions(q, known);
  });
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;
    const ran = await db.tx(async (q) => {
      // Another process may have applied it since we looked.
      if ((await appliedVersions(q, known)).has(migration.version)) return false;
      const sql = typeof migration.sql === 'string' ? migration.sql : migration.sql[db.dialect];
      try {
        await q.exec(sql);
      } catch (err) {
        throw new StateStoreError(
          `schema migration ${migration.version} (${migration.name}) failed, nothing of it was applied: ${driverMessage(err)}`,
          { cause: err },
        );
      }
      await q.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        Date.now(),
      ]);
      return true;
    });
    if (ran) applied.push(migration.version);
  }
  return applied;
}

async function appliedVersions(q: Pick<Db, 'query'>, known: ReadonlySet<number>): Promise<Set<number>> {
  const rows = await q.query<{ version: number; name: string }>(
    'SELECT version, name FROM schema_migrations ORDER BY version',
  );
  const unknown = rows.filter((r) => !known.has(r.version));
  if (unknown.length > 0) {
    const list = unknown.map((r) => `${r.version} (${r.name})`).join(', ');
    const newest = Math.max(0, ...known);
    throw new StateStoreError(
      `the state store has schema version ${list}, which this Squadron does not know (it knows up to ${newest}): ` +
        'a newer Squadron has used this store. Run that newer Squadron, or point this one at another store.',
    );
  }
  return new Set(rows.map((r) => r.version));
}

/** Versions are positive integers, strictly increasing: a mistake here is the code's, not the store's. */
function checkOrder(migrations: readonly Migration[]): void {
  let previous = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= previous) {
      throw new StateStoreError(
        `schema migrations must have positive whole versions in increasing order; ${m.version} (${m.name}) comes after ${previous}`,
      );
    }
    previous = m.version;
  }
}
