import type { Connection, Statement } from './sqlite.ts';
import type { KvChange } from './changes.ts';

/** The statements of the kv store, prepared once per connection. */

export interface ChangeRow {
  seq: number;
  origin: string;
  hlc_ms: number;
  hlc_c: number;
  ns: string;
  key: string;
  op: 'put' | 'delete';
  value: string | null;
  expires_at: number | null;
}

export function changeOf(r: ChangeRow): KvChange {
  return { seq: r.seq, origin: r.origin, hlc: { ms: r.hlc_ms, c: r.hlc_c }, namespace: r.ns, key: r.key, op: r.op, value: r.value, expiresAt: r.expires_at };
}

const LIVE = 'value IS NOT NULL AND (expires_at IS NULL OR expires_at > ?)';

export function prepareStatements(conn: Connection): Record<string, Statement> {
  const p = (sql: string) => conn.prepare(sql);
  return {
    row: p('SELECT value, version, expires_at, hlc_ms, hlc_c, origin, bytes FROM entries WHERE ns = ? AND key = ?'),
    upsert: p(`INSERT INTO entries (ns, key, value, version, expires_at, hlc_ms, hlc_c, origin, bytes, dead_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, version = excluded.version, expires_at = excluded.expires_at,
        hlc_ms = excluded.hlc_ms, hlc_c = excluded.hlc_c, origin = excluded.origin, bytes = excluded.bytes, dead_since = excluded.dead_since`),
    addUsage: p(`INSERT INTO namespaces (ns, keys, bytes) VALUES (?, ?, ?)
      ON CONFLICT (ns) DO UPDATE SET keys = keys + excluded.keys, bytes = bytes + excluded.bytes`),
    listFrom: p(`SELECT key, value, version, expires_at FROM entries WHERE ns = ? AND key >= ? AND ${LIVE} ORDER BY key`),
    listAfter: p(`SELECT key, value, version, expires_at FROM entries WHERE ns = ? AND key > ? AND ${LIVE} ORDER BY key`),
    quota: p('SELECT max_keys, max_bytes FROM namespaces WHERE ns = ?'),
    ensureNamespace: p('INSERT INTO namespaces (ns) VALUES (?) ON CONFLICT (ns) DO NOTHING'),
    setMaxKeys: p('UPDATE namespaces SET max_keys = ? WHERE ns = ?'),
    setMaxBytes: p('UPDATE namespaces SET max_bytes = ? WHERE ns = ?'),
    usage: p('SELECT keys, bytes FROM namespaces WHERE ns = ?'),
    totals: p('SELECT sum(keys) AS keys, sum(bytes) AS bytes, count(*) AS namespaces FROM namespaces'),
    append: p('INSERT INTO changes (seq, origin, hlc_ms, hlc_c, ns, key, op, value, expires_at, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    changes: p('SELECT seq, origin, hlc_ms, hlc_c, ns, key, op, value, expires_at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?'),
    snapshot: p(`SELECT ns, key, value, version, expires_at, hlc_ms, hlc_c, origin, bytes FROM entries
      WHERE (ns, key) > (?, ?) ORDER BY ns, key LIMIT ?`),
    setMeta: p('UPDATE meta SET value = ? WHERE name = ?'),
    cursor: p('SELECT store_id, seq FROM cursors WHERE site = ?'),
    setCursor: p(`INSERT INTO cursors (site, store_id, seq) VALUES (?, ?, ?)
      ON CONFLICT (site) DO UPDATE SET store_id = excluded.store_id, seq = excluded.seq`),
    expired: p(`SELECT ns, key, value, version, expires_at, hlc_ms, hlc_c, origin, bytes FROM entries
      WHERE value IS NOT NULL AND expires_at IS NOT NULL AND expires_at <= ? LIMIT ?`),
    expiredIn: p(`SELECT ns, key, value, version, expires_at, hlc_ms, hlc_c, origin, bytes FROM entries
      WHERE ns = ? AND value IS NOT NULL AND expires_at IS NOT NULL AND expires_at <= ? LIMIT ?`),
    purgeTombstones: p(`DELETE FROM entries WHERE (ns, key) IN
      (SELECT ns, key FROM entries WHERE value IS NULL AND dead_since < ? LIMIT ?)`),
    lastChangeBefore: p('SELECT max(seq) AS seq FROM changes WHERE at < ?'),
    pruneChanges: p('DELETE FROM changes WHERE seq <= ?'),
  };
}
