import { StorageError, type StorageDescription, type StorageSpec } from '../provisioner.ts';
import { createDatabaseAndRole, dropDatabaseAndRole, generatePassword, resourceDbName } from './database-role.ts';
import { queryOnce, type Endpoint } from './sql.ts';
import type { ExistingPostgresState } from './state.ts';

/**
 * Resources on a server the platform does not run (a managed service, a team's own cluster):
 * the platform creates a database and a role with a generated password there, and drops them
 * at the end. Availability is that server's business: no failover here.
 */
export class ExistingServer {
  readonly admin: Endpoint;
  /** The URL without its password, for messages. */
  readonly where: string;

  /** `url`: a role on that server that may create roles and databases, e.g. postgres://admin:pw@db.internal:5432/postgres. */
  constructor(url: string) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (err) {
      throw new StorageError('BAD_REQUEST', `the existing PostgreSQL server must be a URL like postgres://user:password@host:5432/postgres, not ${JSON.stringify(url)}`, { cause: err });
    }
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
      throw new StorageError('BAD_REQUEST', `the existing PostgreSQL server's URL must start with postgres://, not ${parsed.protocol}//`);
    }
    this.admin = {
      host: parsed.hostname || '127.0.0.1',
      port: Number(parsed.port || 5432),
      user: decodeURIComponent(parsed.username || 'postgres'),
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
      database: decodeURIComponent(parsed.pathname.slice(1)) || 'postgres',
    };
    parsed.password = parsed.password ? '***' : '';
    this.where = parsed.toString();
  }

  async create(spec: StorageSpec): Promise<ExistingPostgresState> {
    try {
      const db = await createDatabaseAndRole(this.admin, spec, generatePassword());
      return { mode: 'existing', ...db, primary: spec.primary, host: this.admin.host, port: this.admin.port };
    } catch (err) {
      // Undo a half-made resource (a role without its database); someone else's database stays.
      if (!(err instanceof StorageError && err.code === 'CONFLICT')) await dropDatabaseAndRole(this.admin, spec).catch(() => {});
      throw this.failure(err, `could not create the database and role of ${spec.name}`);
    }
  }

  async describe(spec: StorageSpec, state: ExistingPostgresState): Promise<StorageDescription> {
    let up = false;
    let detail: string;
    try {
      const rows = await queryOnce(this.admin, 'SELECT 1 FROM pg_database WHERE datname = $1', [state.database], { connectTimeoutMs: 2_000, queryTimeoutMs: 2_000 });
      up = true;
      detail = rows.length ? 'existing server' : `existing server; database ${state.database} is missing`;
    } catch (err) {
      detail = `unreachable: ${(err as Error).message}`;
    }
    return {
      sites: [{ site: state.primary, role: up ? 'primary' : 'down', endpoint: `${state.host}:${state.port}`, up, detail }],
      facts: { mode: 'existing', server: this.where, database: state.database, primary: state.primary, sites: spec.sites },
    };
  }

  async destroy(spec: StorageSpec): Promise<void> {
    try {
      await dropDatabaseAndRole(this.admin, spec);
    } catch (err) {
      throw this.failure(err, `could not drop the database and role of ${spec.name} (${resourceDbName(spec)})`);
    }
  }

  private failure(err: unknown, doing: string): StorageError {
    if (err instanceof StorageError) return new StorageError(err.code, `${doing}: ${err.message}`, { cause: err });
    return new StorageError('STORAGE_UNAVAILABLE', `${doing} on ${this.where}: ${(err as Error).message}; check that the server is up and the URL's role may create roles and databases`, { cause: err });
  }
}
