import pg from 'pg';

/** Where and as whom to connect: one server, one database. */
export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
}

export interface QueryLimits {
  /** Gives up connecting after this long (a stopped or hung server). */
  connectTimeoutMs?: number;
  /** Gives up waiting for the answer after this long. */
  queryTimeoutMs?: number;
}

/**
 * Runs `work` on a fresh connection and closes it: the provisioner's own statements are few, and
 * a connection kept open would outlive the server it points to at every failover.
 */
export async function withClient<T>(endpoint: Endpoint, work: (client: pg.Client) => Promise<T>, limits: QueryLimits = {}): Promise<T> {
  const client = new pg.Client({
    ...endpoint,
    connectionTimeoutMillis: limits.connectTimeoutMs ?? 5_000,
    ...(limits.queryTimeoutMs ? { query_timeout: limits.queryTimeoutMs } : {}),
  });
  // A server killed under an open connection emits 'error'; the failed query already says so.
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** One statement on a fresh connection; resolves with its rows. */
export async function queryOnce<Row extends pg.QueryResultRow = Record<string, unknown>>(
  endpoint: Endpoint,
  sql: string,
  params: unknown[] = [],
  limits: QueryLimits = {},
): Promise<Row[]> {
  return withClient(endpoint, async (client) => (await client.query<Row>(sql, params)).rows, limits);
}

/** An identifier quoted for SQL (role and database names cannot be statement parameters). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A string literal quoted for SQL. */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
