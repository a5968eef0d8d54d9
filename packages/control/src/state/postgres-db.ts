import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import type { Db, Queryable } from './db.ts';
import { StateStoreError, driverMessage, sqlExcerpt, type ConstraintViolation } from './state-errors.ts';

/**
 * The advisory lock every transaction takes, so that transactions are serialized across every
 * control plane process sharing the database: the bytes of "squadron" read as a 64-bit integer.
 * Advisory locks are per database, so stores in other databases of the same server never contend.
 */
export const SQUADRON_LOCK_KEY = '8318559047887515502';

/**
 * The state store on PostgreSQL, through a pool. Transactions also queue in this process before
 * taking a connection, so transactions waiting for the advisory lock never hold the whole pool.
 */
export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  /** The URL without its password, for messages. */
  readonly where: string;
  private readonly pool: PgPool;
  private txTail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(url: string, options: { maxConnections?: number; connectTimeoutMs?: number } = {}) {
    this.where = redactUrl(url);
    const pg = loadDriver();
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      // Also bounds waiting for a free pooled connection; a store that cannot be reached fails
      // with a message instead of hanging.
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      // Per pool, not pg's global parsers: other pg users in the process keep their defaults.
      types: {
        getTypeParser: (oid: number, format?: string) =>
          oid === INT8_OID || oid === NUMERIC_OID ? parseNumber : pg.types.getTypeParser(oid, format),
      },
    });
    // An idle connection that dies (server restart) is dropped by the pool and replaced on next
    // use; without a listener the 'error' event would end the process.
    this.pool.on('error', ignore);
  }

  async query<T = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    this.assertUsable();
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      return await runQuery<T>(client, sql, params);
    } catch (err) {
      broken = brokenConnection(err);
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async exec(sql: string): Promise<void> {
    this.assertUsable();
    const client = await this.connect();
    let broken: Error | undefined;
    try {
      await runExec(client, sql);
    } catch (err) {
      broken = brokenConnection(err);
      throw err;
    } finally {
      client.release(broken);
    }
  }

  tx<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    try {
      this.assertUsable();
    } catch (err) {
      return Promise.reject(err);
    }
    const result = this.txTail.then(() => this.runTx(work));
    this.txTail = result.then(ignore, ignore);
    return result;
  }

  /** Waits for the connections in use to be returned, then closes them all. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.txTail;
    await this.pool.end();
  }

  private async runTx<T>(work: (q: Queryable) => Promise<T>): Promise<T> {
    const client = await this.connect();
    const scope: TxScope = { db: this, active: true };
    let broken: Error | undefined;
    try {
      await runExec(client, 'BEGIN');
      await runExec(client, `SELECT pg_advisory_xact_lock(${SQUADRON_LOCK_KEY})`);
      const q: Queryable = {
        query: async <R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []) => {
          assertActive(scope);
          return runQuery<R>(client, sql, params);
        },
        exec: async (sql: string) => {
          assertActive(scope);
          return runExec(client, sql);
        },
      };
      const result = await openTx.run(scope, () => work(q));
      scope.active = false;
      await runExec(client, 'COMMIT');
      return result;
    } catch (err) {
      scope.active = false;
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // The connection is unusable (it died, say): the pool must not hand it out again.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** A pooled connection; failing to get one is reported as the store being unreachable. */
  private async connect(): Promise<PgClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw new StateStoreError(
        `cannot connect to the PostgreSQL state store at ${this.where}: ${driverMessage(err)} (${connectHint(err)})`,
        { cause: err },
      );
    }
  }

  private assertUsable(): void {
    if (this.closed) throw new StateStoreError(`the PostgreSQL state store at ${this.where} is closed`);
    const scope = openTx.getStore();
    if (scope?.active && scope.db === this) {
      throw new StateStoreError(
        'the state store was used directly inside one of its own transactions, which the embedded SQLite store ' +
          'cannot do (it would wait for itself forever): use the Queryable passed to the transaction\'s work',
      );
    }
  }
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** BIGINT, and NUMERIC (what SUM of a BIGINT gives), as numbers, the way SQLite returns them. */
function parseNumber(value: string): number {
  return Number(value);
}

/**
 * Extended protocol even without parameters: one statement per call, as in SQLite, so a
 * stray `;` cannot smuggle in a second statement.
 */
async function runQuery<T>(client: PgClient, sql: string, params: readonly unknown[]): Promise<T[]> {
  try {
    const result = await client.query({ text: sql, values: [...params], queryMode: 'extended' });
    return result.rows as T[];
  } catch (err) {
    throw statementError(err, sql);
  }
}

/** Simple protocol: several statements in one round trip, inside the current transaction if any. */
async function runExec(client: PgClient, sql: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (err) {
    throw statementError(err, sql);
  }
}

function statementError(err: unknown, sql: string): StateStoreError {
  if (err instanceof StateStoreError) return err;
  return new StateStoreError(`${driverMessage(err)} (in: ${sqlExcerpt(sql)})`, { cause: err, violation: violationOf(err) });
}

function violationOf(err: unknown): ConstraintViolation | undefined {
  switch ((err as { code?: unknown } | null)?.code) {
    case '23505':
      return 'unique';
    case '23503':
      return 'foreign_key';
    case '23502':
      return 'not_null';
    case '23514':
      return 'check';
    default:
      return undefined;
  }
}

/** An error that means the connection itself is gone, so the pool must discard it. */
function brokenConnection(err: unknown): Error | undefined {
  const cause = err instanceof StateStoreError ? err.cause : err;
  const code = (cause as { code?: unknown } | null)?.code;
  // Class 08 is "connection exception"; 57P0x is the server shutting down or terminating us.
  if (typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P') || code.startsWith('E'))) {
    return cause instanceof Error ? cause : new Error(String(cause));
  }
  return undefined;
}

/** What to check, for the usual reasons a connection fails. */
function connectHint(err: unknown): string {
  const first = err instanceof AggregateError && err.errors.length > 0 ? err.errors[0] : err;
  const code = (first as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'check that PostgreSQL is running and listening on that host and port';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'check the host name in the URL';
    case '3D000':
      return 'check the database name in the URL, or create the database';
    case '28P01':
    case '28000':
      return 'check the user name and password, and that pg_hba.conf lets this user in from this host';
    default:
      return 'check that PostgreSQL is running and reachable at that host and port, that the database exists, ' +
        'and that the user and password are right';
  }
}

/** The URL with its password replaced by `***`, or a placeholder when it does not parse. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(a PostgreSQL URL that does not parse)';
  }
}

function assertActive(scope: TxScope): void {
  if (!scope.active) throw new StateStoreError('a transaction\'s Queryable was used after the transaction ended');
}

function ignore(): void {}

interface TxScope {
  db: PostgresDb;
  active: boolean;
}

/** The transaction the current async call chain runs inside, to refuse using the pool from it. */
const openTx = new AsyncLocalStorage<TxScope>();

/** The part of pg used here (it ships no type declarations). */
interface PgResult {
  rows: unknown[];
}

interface PgClient {
  query(config: { text: string; values: unknown[]; queryMode: 'extended' }): Promise<PgResult>;
  query(text: string): Promise<PgResult | PgResult[]>;
  release(err?: Error): void;
}

interface PgPool {
  connect(): Promise<PgClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

type TypeParser = (value: string) => unknown;

interface PgDriver {
  Pool: new (config: {
    connectionString: string;
    max: number;
    connectionTimeoutMillis: number;
    types: { getTypeParser(oid: number, format?: string): TypeParser };
  }) => PgPool;
  types: { getTypeParser(oid: number, format?: string): TypeParser };
}

let driver: PgDriver | undefined;

function loadDriver(): PgDriver {
  driver ??= createRequire(import.meta.url)('pg') as PgDriver;
  return driver;
}
