/**
 * The state store's connection, the same for the embedded SQLite default and PostgreSQL. SQL is
 * written once, with `$1, $2, …` placeholders, in the subset both dialects share. Whole numbers
 * come back as JS numbers in both (BIGINT included: epoch milliseconds fit), text as strings.
 */
export interface Queryable {
  /** Rows of a statement; `[]` for statements that return none. */
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Several statements separated by `;`, without parameters or rows: migrations, mostly. */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Run `work` as one transaction: committed when it resolves, rolled back (nothing written)
   * when it throws. Transactions that write are serialized, across processes too (PostgreSQL: a
   * transaction-scoped advisory lock), so a check made inside one still holds at its commit.
   * Inside `work`, use `q` only: calling this Db itself there is refused (SQLite has one shared
   * connection, so it would wait for the transaction that waits for it).
   */
  tx<T>(work: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** One step of the schema. Applied once, in order of `version`, each in its own transaction. */
export interface Migration {
  version: number;
  name: string;
  /** One SQL text for both dialects, or one for each; several statements separated by `;`. */
  sql: string | { sqlite: string; postgres: string };
}
