import type { ChangesPage, KvChange, RemoteWrite } from './changes.ts';
import { HybridClock, laterWrite, type HlcStamp } from './hlc.ts';
import { KvConflictError } from './kv-errors.ts';
import { checkKey, checkNamespace, checkWriteOptions, encodeValue, entryBytes, refuse, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './limits.ts';
import { checkQuota, DEFAULT_QUOTA, type KvQuota, type KvUsage } from './quotas.ts';
import { openSqlite, type Connection, type Statement } from './sqlite.ts';
import { changeOf, prepareStatements, type ChangeRow } from './store-sql.ts';
import { prepareSchema } from './store-schema.ts';

/** A live key as readers see it. `expiresAt` is wall-clock ms, or null for no TTL. */
export interface KvEntry<T = unknown> {
  key: string;
  value: T;
  version: number;
  expiresAt: number | null;
}

/** One page of a listing; pass `next` back as `after` for the next page (null: that was the last). */
export interface KvPage<T = unknown> {
  items: Array<KvEntry<T>>;
  next: string | null;
}

export interface WriteOptions {
  /** The key disappears this many ms after the write. */
  ttlMs?: number | undefined;
  /** Compare-and-set: write only if the key is at this version here (0: only if it does not exist). */
  ifVersion?: number | undefined;
}

export interface KvStoreOptions {
  file: string;
  /** The site this file belongs to; the origin of every write made through it. */
  site: string;
  /** The wall clock, in ms (injectable for tests). */
  now?: () => number;
  /** The quota of namespaces without one of their own. */
  defaultQuota?: KvQuota;
  /** How long tombstones, and changes no peer has asked for, are kept (default a day). */
  retentionMs?: number;
}

interface Row {
  value: string | null;
  version: number;
  expires_at: number | null;
  hlc_ms: number;
  hlc_c: number;
  origin: string;
  bytes: number;
}

interface NextRow {
  value: string | null;
  version: number;
  expiresAt: number | null;
  hlc: HlcStamp;
  origin: string;
  deadSince: number | null;
}

const BATCH = 1000;

/**
 * One site's replica of a kv resource, on SQLite: every namespace's keys, their versions and
 * TTLs, quotas, and the change log its peers pull. Synchronous, like better-sqlite3; each
 * operation is one transaction.
 *
 * @example
 * const store = KvStore.open({ file: 'data/sto/kv.db', site: 'sto' });
 * const { version } = store.put('app-1', 'users/42', { name: 'Ada' });
 * store.put('app-1', 'users/42', { name: 'Ada L.' }, { ifVersion: version });
 */
export class KvStore {
  readonly site: string;
  readonly storeId: string;
  readonly now: () => number;
  private readonly conn: Connection;
  private readonly clock: HybridClock;
  private readonly defaultQuota: KvQuota;
  private readonly retentionMs: number;
  private lastSeq: number;
  private prunedThrough: number;
  private readonly sql: Record<string, Statement>;

  static open(options: KvStoreOptions): KvStore {
    return new KvStore(options);
  }

  private constructor(options: KvStoreOptions) {
    this.site = options.site;
    this.now = options.now ?? Date.now;
    this.defaultQuota = options.defaultQuota ?? DEFAULT_QUOTA;
    this.retentionMs = options.retentionMs ?? 24 * 3600 * 1000;
    this.conn = openSqlite(options.file);
    try {
      const meta = prepareSchema(this.conn, options.site, options.file);
      this.storeId = meta.storeId;
      this.lastSeq = meta.head;
      this.prunedThrough = meta.prunedThrough;
      this.clock = new HybridClock(this.now, { ms: meta.hlcMs, c: meta.hlcC });
      this.sql = prepareStatements(this.conn);
    } catch (err) {
      this.conn.close();
      throw err;
    }
  }

  /** The live entry, or null when the key does not exist, was deleted, or has expired. */
  get<T = unknown>(namespace: string, key: string): KvEntry<T> | null {
    refuse([...checkNamespace(namespace), ...checkKey(key)]);
    const row = this.row(namespace, key);
    if (!row || !this.live(row)) return null;
    return { key, value: JSON.parse(row.value as string) as T, version: row.version, expiresAt: row.expires_at };
  }

  /** Write a value (any JSON but null); returns the key's new version here. */
  put(namespace: string, key: string, value: unknown, options: WriteOptions = {}): { version: number; expiresAt: number | null } {
    const { json, errors } = encodeValue(value);
    refuse([...checkNamespace(namespace), ...checkKey(key), ...errors, ...checkWriteOptions(options)]);
    const bytes = entryBytes(key, json);
    return this.tx(() => {
      const now = this.now();
      let row = this.row(namespace, key);
      this.checkVersion(key, row, options.ifVersion);
      const quota = this.quotaOf(namespace);
      const after = (r: Row | undefined, before: KvUsage): KvUsage => ({
        keys: before.keys + (r && r.value !== null ? 0 : 1),
        bytes: before.bytes + bytes - (r?.bytes ?? 0),
      });
      let before = this.usageOf(namespace);
      if (after(row, before).keys > quota.maxKeys || after(row, before).bytes > quota.maxBytes) {
        // Expired keys still count until the purge gets to them: give them up before refusing.
        this.expire(namespace);
        row = this.row(namespace, key);
        before = this.usageOf(namespace);
      }
      checkQuota(namespace, key, quota, before, after(row, before));
      const expiresAt = options.ttlMs !== undefined ? now + options.ttlMs : null;
      const hlc = this.clock.tick();
      const next: NextRow = { value: json, version: (row?.version ?? 0) + 1, expiresAt, hlc, origin: this.site, deadSince: null };
      this.writeRow(namespace, key, row, next);
      this.log({ origin: this.site, hlc, namespace, key, op: 'put', value: json, expiresAt }, now);
      return { version: next.version, expiresAt };
    });
  }

  /**
   * Delete a key. The delete is a write like any other (a tombstone, replicated, ordered by the
   * same rule), made even when the key is not here yet, so it wins over older writes still on
   * their way. `deleted` says whether a live value was here.
   */
  delete(namespace: string, key: string, options: Pick<WriteOptions, 'ifVersion'> = {}): { deleted: boolean } {
    refuse([...checkNamespace(namespace), ...checkKey(key), ...checkWriteOptions(options)]);
    return this.tx(() => {
      const now = this.now();
      const row = this.row(namespace, key);
      this.checkVersion(key, row, options.ifVersion);
      const hlc = this.clock.tick();
      this.writeRow(namespace, key, row, { value: null, version: (row?.version ?? 0) + 1, expiresAt: null, hlc, origin: this.site, deadSince: now });
      this.log({ origin: this.site, hlc, namespace, key, op: 'delete', value: null, expiresAt: null }, now);
      return { deleted: row !== undefined && this.live(row, now) };
    });
  }

  /** Live keys starting with `prefix`, in key order (UTF-8 bytes), after the key `after`. */
  list<T = unknown>(namespace: string, prefix = '', options: { limit?: number | undefined; after?: string | undefined } = {}): KvPage<T> {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    refuse([
      ...checkNamespace(namespace),
      ...(Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIST_LIMIT ? [] : [{ path: 'querystring:/limit', message: `must be from 1 to ${MAX_LIST_LIMIT}` }]),
    ]);
    const now = this.now();
    // Start at the cursor when it lies inside the prefix's range, else at the prefix.
    const fromCursor = options.after !== undefined && Buffer.compare(Buffer.from(options.after), Buffer.from(prefix)) >= 0;
    const rows = fromCursor ? this.sql.listAfter!.iterate(namespace, options.after, now) : this.sql.listFrom!.iterate(namespace, prefix, now);
    const items: Array<KvEntry<T>> = [];
    let more = false;
    for (const raw of rows) {
      const r = raw as { key: string; value: string; version: number; expires_at: number | null };
      if (!r.key.startsWith(prefix)) break;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push({ key: r.key, value: JSON.parse(r.value) as T, version: r.version, expiresAt: r.expires_at });
    }
    return { items, next: more ? items[items.length - 1]!.key : null };
  }

  /** A namespace's quota: its own, or the default. */
  quotaOf(namespace: string): KvQuota {
    const row = this.sql.quota!.get(namespace) as { max_keys: number | null; max_bytes: number | null } | undefined;
    return { maxKeys: row?.max_keys ?? this.defaultQuota.maxKeys, maxBytes: row?.max_bytes ?? this.defaultQuota.maxBytes };
  }

  /** Set a namespace's quota here; a limit left out is unchanged, null goes back to the default. */
  setQuota(namespace: string, quota: { maxKeys?: number | null | undefined; maxBytes?: number | null | undefined }): KvQuota {
    refuse(checkNamespace(namespace));
    this.tx(() => {
      this.sql.ensureNamespace!.run(namespace);
      if (quota.maxKeys !== undefined) this.sql.setMaxKeys!.run(quota.maxKeys, namespace);
      if (quota.maxBytes !== undefined) this.sql.setMaxBytes!.run(quota.maxBytes, namespace);
    });
    return this.quotaOf(namespace);
  }

  usageOf(namespace: string): KvUsage {
    const row = this.sql.usage!.get(namespace) as KvUsage | undefined;
    return { keys: row?.keys ?? 0, bytes: row?.bytes ?? 0 };
  }

  /** Totals over every namespace, and the change log's head. */
  stats(): { keys: number; bytes: number; namespaces: number; head: number; prunedThrough: number } {
    const t = this.sql.totals!.get() as { keys: number | null; bytes: number | null; namespaces: number };
    return { keys: t.keys ?? 0, bytes: t.bytes ?? 0, namespaces: t.namespaces, head: this.lastSeq, prunedThrough: this.prunedThrough };
  }

  // ---- replication ----

  /** The sequence of this site's latest write. */
  head(): number {
    return this.lastSeq;
  }

  /** This site's own writes after `since`, in order, for a peer to apply. */
  changesSince(since: number, limit = BATCH): ChangesPage {
    const rows = this.sql.changes!.all(since, limit) as Array<ChangeRow>;
    return { storeId: this.storeId, head: this.lastSeq, truncated: since < this.prunedThrough, changes: rows.map(changeOf) };
  }

  /** Every entry, tombstones included, after (`namespace`, `key`): a snapshot for a peer the log no longer covers. */
  snapshot(after: { namespace: string; key: string } | null, limit = BATCH): { writes: RemoteWrite[]; next: { namespace: string; key: string } | null } {
    const rows = this.sql.snapshot!.all(after?.namespace ?? '', after?.key ?? '', limit) as Array<Row & { ns: string; key: string }>;
    const writes = rows.map((r): RemoteWrite => ({
      origin: r.origin, hlc: { ms: r.hlc_ms, c: r.hlc_c }, namespace: r.ns, key: r.key,
      op: r.value === null ? 'delete' : 'put', value: r.value, expiresAt: r.expires_at,
    }));
    const last = rows[rows.length - 1];
    return { writes, next: rows.length === limit && last ? { namespace: last.ns, key: last.key } : null };
  }

  /**
   * Apply writes made at other sites, each only if it is later than what is here (the conflict
   * rule: `laterWrite`), and move the cursor of the peer they came from, in one transaction.
   * Quotas do not apply: the write was accepted where it was made, and refusing it here would
   * leave the replicas apart for good. Returns how many writes changed something.
   */
  apply(writes: RemoteWrite[], cursor?: { site: string; storeId: string; seq: number }): number {
    return this.tx(() => {
      const now = this.now();
      let applied = 0;
      for (const w of writes) {
        this.clock.observe(w.hlc);
        const row = this.row(w.namespace, w.key);
        if (row && !laterWrite(w, { hlc: { ms: row.hlc_ms, c: row.hlc_c }, origin: row.origin })) continue;
        // A value that expired on its way is kept as a tombstone: it still orders later writes.
        const dead = w.value === null || (w.expiresAt !== null && w.expiresAt <= now);
        this.writeRow(w.namespace, w.key, row, {
          value: dead ? null : w.value, version: (row?.version ?? 0) + 1, expiresAt: dead ? null : w.expiresAt,
          hlc: w.hlc, origin: w.origin, deadSince: dead ? (w.op === 'put' && w.expiresAt !== null ? w.expiresAt : now) : null,
        });
        applied++;
      }
      if (cursor) this.sql.setCursor!.run(cursor.site, cursor.storeId, cursor.seq);
      this.saveClock();
      return applied;
    });
  }

  /** Where this site is in a peer's log: which log (null before the first pull) and its last applied sequence. */
  cursorOf(site: string): { storeId: string | null; seq: number } {
    const row = this.sql.cursor!.get(site) as { store_id: string; seq: number } | undefined;
    return row ? { storeId: row.store_id, seq: row.seq } : { storeId: null, seq: 0 };
  }

  /** Start over on a peer's log (its file was rebuilt: a new log). */
  resetCursor(site: string, storeId: string): void {
    this.sql.setCursor!.run(site, storeId, 0);
  }

  // ---- housekeeping ----

  /**
   * Turn expired keys (of one namespace, or all) into tombstones, so they stop counting against
   * quotas; they were invisible already. Returns how many, at most a batch per call.
   */
  expire(namespace?: string): number {
    return this.tx(() => {
      const now = this.now();
      const rows = (namespace === undefined ? this.sql.expired!.all(now, BATCH) : this.sql.expiredIn!.all(namespace, now, BATCH)) as Array<Row & { ns: string; key: string }>;
      for (const r of rows) {
        this.writeRow(r.ns, r.key, r, {
          value: null, version: r.version, expiresAt: null, hlc: { ms: r.hlc_ms, c: r.hlc_c }, origin: r.origin, deadSince: r.expires_at,
        });
      }
      return rows.length;
    });
  }

  /**
   * Forget tombstones older than the retention, and changes that every peer has pulled
   * (`ackedThrough`: the lowest sequence all peers asked beyond) or that are older than it.
   */
  purge(ackedThrough: number): { tombstones: number; changes: number } {
    return this.tx(() => {
      const cutoff = this.now() - this.retentionMs;
      const tombstones = this.sql.purgeTombstones!.run(cutoff, BATCH).changes;
      const byAge = (this.sql.lastChangeBefore!.get(cutoff) as { seq: number | null }).seq ?? 0;
      const through = Math.min(this.lastSeq, Math.max(ackedThrough, byAge));
      let changes = 0;
      if (through > this.prunedThrough) {
        changes = this.sql.pruneChanges!.run(through).changes;
        this.prunedThrough = through;
        this.sql.setMeta!.run(String(through), 'pruned_through');
      }
      return { tombstones, changes };
    });
  }

  close(): void {
    if (this.conn.open) this.conn.close();
  }

  // ---- internals ----

  private tx<T>(work: () => T): T {
    return this.conn.transaction(work)();
  }

  private row(namespace: string, key: string): Row | undefined {
    return this.sql.row!.get(namespace, key) as Row | undefined;
  }

  private live(row: Row, now = this.now()): boolean {
    return row.value !== null && (row.expires_at === null || row.expires_at > now);
  }

  private checkVersion(key: string, row: Row | undefined, ifVersion: number | undefined): void {
    if (ifVersion === undefined) return;
    const current = row && this.live(row) ? row.version : 0;
    if (current !== ifVersion) throw new KvConflictError(key, ifVersion, current);
  }

  /** Write a key's row and keep its namespace's use in step (tombstones count nothing). */
  private writeRow(namespace: string, key: string, prev: Row | undefined, next: NextRow): void {
    const bytes = next.value === null ? 0 : entryBytes(key, next.value);
    this.sql.upsert!.run(namespace, key, next.value, next.version, next.expiresAt, next.hlc.ms, next.hlc.c, next.origin, bytes, next.deadSince);
    const keys = (next.value !== null ? 1 : 0) - (prev && prev.value !== null ? 1 : 0);
    this.sql.addUsage!.run(namespace, keys, bytes - (prev?.bytes ?? 0));
  }

  private log(w: RemoteWrite, now: number): void {
    this.lastSeq++;
    this.sql.append!.run(this.lastSeq, w.origin, w.hlc.ms, w.hlc.c, w.namespace, w.key, w.op, w.value, w.expiresAt, now);
    this.sql.setMeta!.run(String(this.lastSeq), 'head');
    this.saveClock();
  }

  private saveClock(): void {
    const { ms, c } = this.clock.current();
    this.sql.setMeta!.run(String(ms), 'hlc_ms');
    this.sql.setMeta!.run(String(c), 'hlc_c');
  }
}
