import { createRequire } from 'node:module';
import { StorageError } from '../provisioner.ts';

/** The part of better-sqlite3 the kv store uses (the driver ships no type declarations). */
export interface Statement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

export interface Connection {
  readonly open: boolean;
  prepare(sql: string): Statement;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  close(): unknown;
}

type Driver = new (file: string, options: { timeout: number }) => Connection;

/**
 * Open a site's kv file. WAL lets the purge and the HTTP reads go on while a write commits.
 * synchronous=FULL: a write the server acknowledged survives a power cut. With NORMAL the last
 * commits could vanish after one, and the change log would then hand out the same sequence
 * numbers again for different writes, which peers that already pulled the lost ones would skip:
 * the replicas would part for good. One fsync per write (or per pulled batch) is the price.
 */
export function openSqlite(file: string): Connection {
  let conn: Connection | undefined;
  try {
    const Database = createRequire(import.meta.url)('better-sqlite3') as Driver;
    conn = new Database(file, { timeout: 5000 });
    conn.pragma('journal_mode = WAL');
    conn.pragma('synchronous = FULL');
    return conn;
  } catch (err) {
    try { conn?.close(); } catch { /* already failing */ }
    throw new StorageError(
      'STORAGE_UNAVAILABLE',
      `cannot open the kv store at ${file}: ${(err as Error).message} (check that its directory exists and is writable, and that the file is a kv store)`,
      { cause: err },
    );
  }
}
