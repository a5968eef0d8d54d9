import { randomUUID } from 'node:crypto';
import { StorageError } from '../provisioner.ts';
import type { Connection } from './sqlite.ts';

/**
 * The tables of one site's kv file.
 *
 * - `entries`: the current state of every key, tombstones included (value NULL), with the write
 *   that made it (its stamp and origin site) so a late remote write can be judged against it.
 * - `changes`: this site's own writes in order, the log its peers pull. A site logs only what was
 *   written to it; every site pulls every other, so nothing needs relaying.
 * - `cursors`: per peer, the last sequence of its log applied here (and which log: a peer whose
 *   file was rebuilt starts a new one).
 * - `namespaces`: use (live keys, bytes) and quota overrides of each namespace.
 * - `meta`: the site, the file's own id, the log's head, the clock.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT,
  version INTEGER NOT NULL,
  expires_at INTEGER,
  hlc_ms INTEGER NOT NULL,
  hlc_c INTEGER NOT NULL,
  origin TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  dead_since INTEGER,
  PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_expiry ON entries (expires_at) WHERE value IS NOT NULL AND expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_dead ON entries (dead_since) WHERE value IS NULL;
CREATE TABLE IF NOT EXISTS changes (
  seq INTEGER PRIMARY KEY,
  origin TEXT NOT NULL,
  hlc_ms INTEGER NOT NULL,
  hlc_c INTEGER NOT NULL,
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  op TEXT NOT NULL CHECK (op IN ('put', 'delete')),
  value TEXT,
  expires_at INTEGER,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (site TEXT PRIMARY KEY, store_id TEXT NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS namespaces (
  ns TEXT PRIMARY KEY,
  keys INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  max_keys INTEGER,
  max_bytes INTEGER
) WITHOUT ROWID;
`;

/** The facts kept in `meta`, read once at open. */
export interface StoreMeta {
  storeId: string;
  head: number;
  prunedThrough: number;
  hlcMs: number;
  hlcC: number;
}

/** Create the tables if need be, and check that the file belongs to `site`. */
export function prepareSchema(conn: Connection, site: string, file: string): StoreMeta {
  conn.exec(SCHEMA);
  const read = conn.prepare('SELECT value FROM meta WHERE name = ?');
  const write = conn.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING');
  conn.transaction(() => {
    write.run('site', site);
    write.run('store_id', randomUUID());
    for (const name of ['head', 'pruned_through', 'hlc_ms', 'hlc_c']) write.run(name, '0');
  })();
  const get = (name: string): string => (read.get(name) as { value: string }).value;
  if (get('site') !== site) {
    throw new StorageError(
      'BAD_REQUEST',
      `the kv store at ${file} belongs to site '${get('site')}', not '${site}': start this site with its own directory`,
    );
  }
  return {
    storeId: get('store_id'),
    head: Number(get('head')),
    prunedThrough: Number(get('pruned_through')),
    hlcMs: Number(get('hlc_ms')),
    hlcC: Number(get('hlc_c')),
  };
}
