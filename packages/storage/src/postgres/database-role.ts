import { createHash, randomBytes } from 'node:crypto';
import { StorageError, type StorageSpec } from '../provisioner.ts';
import { ident, literal, withClient, type Endpoint } from './sql.ts';

/** The database and the role of one resource: the role owns the database and can reach nothing else. */
export interface DatabaseAndRole {
  database: string;
  user: string;
  password: string;
}

/** A password for a role or a replication user: 144 random bits, URL-safe, no quoting needed. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * The database and role name of a resource: `sq_` and its name with dashes as underscores,
 * shortened with a hash to fit PostgreSQL's 63 bytes.
 */
export function resourceDbName(spec: StorageSpec): string {
  const name = `sq_${spec.name.replace(/-/g, '_')}`;
  if (name.length <= 63) return name;
  return `${name.slice(0, 50)}_${createHash('sha256').update(spec.name).digest('hex').slice(0, 12)}`;
}

/** The comment that marks a database as this resource's, so a rerun recognises its own work and nobody else's. */
function ownerMark(spec: StorageSpec): string {
  return `squadron resource ${spec.name} of service ${spec.service} (squad ${spec.squad})`;
}

/**
 * Creates the resource's role (with `password`) and database on a server, as its superuser at
 * `admin`. Running it again for the same resource sets the password and changes nothing else; a
 * database of that name that is someone else's is a CONFLICT.
 */
export async function createDatabaseAndRole(admin: Endpoint, spec: StorageSpec, password: string): Promise<DatabaseAndRole> {
  const name = resourceDbName(spec);
  const mark = ownerMark(spec);
  await withClient(admin, async (c) => {
    const { rows: existing } = await c.query<{ mark: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1`,
      [name],
    );
    if (existing.length && existing[0]?.mark !== mark) {
      throw new StorageError('CONFLICT', `the server already has a database named ${name} that is not resource ${spec.name}'s: drop it there, or name the resource differently`);
    }
    const role = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
    await c.query(`${role.rowCount ? 'ALTER' : 'CREATE'} ROLE ${ident(name)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${literal(password)}`);
    if (!existing.length) {
      // CREATE DATABASE cannot run in a transaction; a failure after it is undone by dropDatabaseAndRole.
      await c.query(`CREATE DATABASE ${ident(name)} OWNER ${ident(name)}`);
      await c.query(`COMMENT ON DATABASE ${ident(name)} IS ${literal(mark)}`);
    }
    // Only the owner (and superusers) may connect: other roles on a shared server see nothing.
    await c.query(`REVOKE ALL ON DATABASE ${ident(name)} FROM PUBLIC`);
  });
  return { database: name, user: name, password };
}

/** Drops the resource's database (ending its connections) and role; what is already gone is skipped. */
export async function dropDatabaseAndRole(admin: Endpoint, spec: StorageSpec): Promise<void> {
  const name = resourceDbName(spec);
  await withClient(admin, async (c) => {
    const [row] = (await c.query<{ mark: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1`,
      [name],
    )).rows;
    if (row && row.mark !== ownerMark(spec)) {
      throw new StorageError('CONFLICT', `the database ${name} on the server is not resource ${spec.name}'s; it was left alone`);
    }
    await c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS ${ident(name)}`);
  });
}
