import { AsyncLocalStorage } from 'node:async_hooks';
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Db, Queryable } from './db.ts';
import { StateStoreError, driverMessage, sqlExcerpt, type ConstraintViolation } from './state-errors.ts';

/**
 * The embedded state store: one better-sqlite3 connection to one file. better-sqlite3 is
 * synchronous and the connection is shared, so every statement and every transaction waits its
 * turn in one queue (a "lane"); a statement issued while a transaction awaits runs after it
 * commits, never inside it. Instances on the same file in one process share the lane: otherwise
 * the second one's `BEGIN IMMEDIATE` would block the event loop until the busy timeout.
 */
export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  readonly file: string;
  private readonly conn: SqliteConnection;
  private readonly lane: Lane;
  private readonly laneKey: string | null;
  private readonly statements = new Map<string, Prepared>();
  private closed = false;

  constructor(file: string, options: { busyTimeoutMs?: number } = {}) {
    this.file = file;
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    let conn: SqliteConnection | undefined;
    try {
      conn = new (loadDriver())(file, { timeout: busyTimeoutMs });
      // WAL: readers in other processes never wait for the writer. FULL: a commit that returned
      // survives a power cut, which the catalog and the audit trail need.
      conn.pragma('journal_mode = WAL');
      conn.pragma('synchronous = FULL');
      conn.pragma('foreign_keys = ON');
      conn.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    } catch (err) {
      try { conn?.close(); } catch { /* already failing */ }
      throw new StateStoreError(
        `cannot open the SQLite state store at ${file}: ${driverMessage(err)} ` +
          '(check that the directory exists and is writable and that the file, if it exists, is a SQLite database)',
        { cause: err },
      );
    }
    this.conn = conn;
    this.laneKey = sharedLaneKey(file);
    this.lane = this.laneKey === null ? new Lane() : (lanes.get(this.laneKey) ?? new Lane());
    if (this.laneKey !== null) lanes.set(this.laneKey, this.lane);
    this.lane.users++;
  }

  query<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.inTurn(() => this.run<T>(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.inTurn(() => this.execNow(sql));
  }

  tx<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    return this.inTurn(async () => {
      this.execNow('BEGIN IMMEDIATE');
      const scope: TxScope = { lane: this.lane, active: true };
      const q: Queryable = {
        query: async <R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []) => {
          assertActive(scope);
          return this.run<R>(sql, params);
        },
        exec: async (sql: string) => {
          assertActive(scope);
          this.execNow(sql);
        },
      };
      let result: T;
      try {
        result = await openTx.run(scope, () => work(q));
      } catch (err) {
        scope.active = false;
        this.rollbackQuietly();
        throw err;
      }
      scope.active = false;
      try {
        this.execNow('COMMIT');
      } catch (err) {
        this.rollbackQuietly();
        throw err;
      }
      return result;
    });
  }

  /** Waits for what is queued (an open transaction finishes first), then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.lane.run(() => {
      this.statements.clear();
      this.conn.close();
    });
    if (--this.lane.users === 0 && this.laneKey !== null && lanes.get(this.laneKey) === this.lane) {
      lanes.delete(this.laneKey);
    }
  }

  /** Queues `fn` on the lane; refused from inside this store's own open transaction (it would wait forever). */
  private inTurn<T>(fn: () => T | Promise<T>): Promise<T> {
    const scope = openTx.getStore();
    if (scope?.active && scope.lane === this.lane) {
      return Promise.reject(new StateStoreError(
        'the state store was used directly inside one of its own transactions, which would wait for itself forever: ' +
          'use the Queryable passed to the transaction\'s work',
      ));
    }
    if (this.closed) return Promise.reject(new StateStoreError(`the SQLite state store at ${this.file} is closed`));
    return this.lane.run(() => {
      if (!this.conn.open) throw new StateStoreError(`the SQLite state store at ${this.file} is closed`);
      return fn();
    });
  }

  private run<T>(sql: string, params: readonly unknown[]): T[] {
    const prepared = this.prepare(sql);
    if (params.length !== prepared.count) {
      throw new StateStoreError(
        `the statement takes ${prepared.count} parameter(s) but ${params.length} were given: ${sqlExcerpt(sql)}`,
      );
    }
    try {
      const args: unknown[] = prepared.count === 0 ? [] : [numbered(params)];
      if (prepared.stmt.reader) return prepared.stmt.all(...args) as T[];
      prepared.stmt.run(...args);
      return [];
    } catch (err) {
      throw statementError(err, sql);
    }
  }

  private prepare(sql: string): Prepared {
    const cached = this.statements.get(sql);
    if (cached) {
      // Least recently used goes first: move this one to the end.
      this.statements.delete(sql);
      this.statements.set(sql, cached);
      return cached;
    }
    const { text, count } = toNumberedPlaceholders(sql);
    let stmt: SqliteStatement;
    try {
      stmt = this.conn.prepare(text);
    } catch (err) {
      throw statementError(err, sql);
    }
    const prepared = { stmt, count };
    this.statements.set(sql, prepared);
    if (this.statements.size > STATEMENT_CACHE_SIZE) {
      const oldest = this.statements.keys().next();
      if (!oldest.done) this.statements.delete(oldest.value);
    }
    return prepared;
  }

  private execNow(sql: string): void {
    try {
      this.conn.exec(sql);
    } catch (err) {
      throw statementError(err, sql);
    }
  }

  /** Some errors (disk full, I/O) end the transaction already; then there is nothing to roll back. */
  private rollbackQuietly(): void {
    try {
      if (this.conn.inTransaction) this.conn.exec('ROLLBACK');
    } catch {
      // The original error is the one worth reporting.
    }
  }
}

/** Statements kept prepared; SQL built on the fly would otherwise grow the cache without bound. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * `$1, $2, …` become `?1, ?2, …` (SQLite's numbered parameters, so `$1` used twice is one value),
 * except inside string literals, quoted identifiers and comments. `count` is the highest number.
 */
export function toNumberedPlaceholders(sql: string): { text: string; count: number } {
  let text = '';
  let count = 0;
  let i = 0;
  const param = /\$(\d+)/y;
  while (i < sql.length) {
    const c = sql[i];
    let end = i + 1;
    if (c === "'" || c === '"' || c === '`') {
      end = i + 1;
      for (;;) {
        const close = sql.indexOf(c, end);
        if (close < 0) { end = sql.length; break; }
        end = close + 1;
        if (sql[end] !== c) break;
        end++; // a doubled quote is an escaped quote
      }
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      end = nl < 0 ? sql.length : nl;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      end = close < 0 ? sql.length : close + 2;
    } else if (c === '$') {
      param.lastIndex = i;
      const m = param.exec(sql);
      if (m) {
        text += `?${m[1]}`;
        count = Math.max(count, Number(m[1]));
        i = param.lastIndex;
        continue;
      }
    }
    text += sql.slice(i, end);
    i = end;
  }
  return { text, count };
}

/** better-sqlite3 binds numbered parameters from an object keyed "1", "2", …; undefined binds as NULL, as in pg. */
function numbered(params: readonly unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  params.forEach((value, i) => {
    out[String(i + 1)] = value === undefined ? null : value;
  });
  return out;
}

function statementError(err: unknown, sql: string): unknown {
  if (err instanceof StateStoreError) return err;
  return new StateStoreError(`${driverMessage(err)} (in: ${sqlExcerpt(sql)})`, { cause: err, violation: violationOf(err) });
}

function violationOf(err: unknown): ConstraintViolation | undefined {
  switch ((err as { code?: unknown } | null)?.code) {
    case 'SQLITE_CONSTRAINT_UNIQUE':
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return 'unique';
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return 'foreign_key';
    case 'SQLITE_CONSTRAINT_NOTNULL':
      return 'not_null';
    case 'SQLITE_CONSTRAINT_CHECK':
      return 'check';
    default:
      return undefined;
  }
}

/** A transaction's Queryable works only until the transaction ends. */
function assertActive(scope: TxScope): void {
  if (!scope.active) throw new StateStoreError('a transaction\'s Queryable was used after the transaction ended');
}

/** One queue of work, in order, each item starting when the previous one settled. */
class Lane {
  users = 0;
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(ignore, ignore);
    return result;
  }
}

function ignore(): void {}

/** Lanes of the files open in this process, by real path. */
const lanes = new Map<string, Lane>();

function sharedLaneKey(file: string): string | null {
  if (file === '' || file === ':memory:' || file.startsWith('file:')) return null;
  try {
    return realpathSync(file);
  } catch {
    return null;
  }
}

interface TxScope {
  lane: Lane;
  active: boolean;
}

/** The transaction the current async call chain runs inside, to refuse re-entering the lane. */
const openTx = new AsyncLocalStorage<TxScope>();

/** The part of better-sqlite3 used here (it ships no type declarations). */
interface SqliteStatement {
  readonly reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): unknown;
}

interface SqliteConnection {
  readonly open: boolean;
  readonly inTransaction: boolean;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  pragma(source: string): unknown;
  close(): unknown;
}

type SqliteDriver = new (file: string, options: { timeout: number }) => SqliteConnection;

interface Prepared {
  stmt: SqliteStatement;
  count: number;
}

let driver: SqliteDriver | undefined;

/** Loaded on first use, so a PostgreSQL-only deployment never loads the native addon. */
function loadDriver(): SqliteDriver {
  driver ??= createRequire(import.meta.url)('better-sqlite3') as SqliteDriver;
  return driver;
}
