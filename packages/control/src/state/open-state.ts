import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Db } from './db.ts';
import { migrate } from './migrate.ts';
import { PostgresDb, redactUrl } from './postgres-db.ts';
import { MIGRATIONS } from './schema.ts';
import { SqliteDb } from './sqlite-db.ts';
import { StateStoreError } from './state-errors.ts';

export { StateStoreError } from './state-errors.ts';

/**
 * Opens the control plane's state store and brings its schema up to date. `where` is a
 * `postgres://` or `postgresql://` URL, or else the path of a SQLite file (its directory is
 * created; the file too, on first use). Rejects with a StateStoreError saying what to check.
 */
export async function openStateStore(where: string): Promise<Db> {
  const isPostgres = /^postgres(ql)?:\/\//i.test(where);
  let db: Db;
  if (isPostgres) {
    db = new PostgresDb(where);
  } else {
    if (where !== ':memory:') {
      try {
        mkdirSync(dirname(resolve(where)), { recursive: true });
      } catch (err) {
        throw new StateStoreError(`cannot create the directory of the SQLite state store at ${where}: ${(err as Error).message}`, { cause: err });
      }
    }
    db = new SqliteDb(where);
  }
  try {
    await migrate(db, MIGRATIONS);
  } catch (err) {
    await db.close().catch(() => undefined);
    const label = isPostgres ? redactUrl(where) : where;
    if (err instanceof StateStoreError && err.message.includes(label)) throw err; // already says which store
    throw new StateStoreError(`state store at ${label}: ${(err as Error).message}`, { cause: err });
  }
  return db;
}
