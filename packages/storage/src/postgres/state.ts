import { StorageError, type StorageSpec } from '../provisioner.ts';

/** One failover, as `squadron storage show` reports the last one. */
export interface FailoverRecord {
  from: string;
  to: string;
  /** `command`, or `primary silent` (the monitor's own decision). */
  reason: string;
  /** When the new primary accepted writes (ISO time). */
  at: string;
  /**
   * From the first unanswered probe (or the command) to the new primary accepting writes, in ms:
   * detection, fencing and promotion. Clients are back once they reconnect.
   */
  ms: number;
}

/** A resource run by the platform: one server per site, in the resource's folder. */
export interface EmbeddedPostgresState {
  mode: 'embedded';
  database: string;
  user: string;
  password: string;
  primary: string;
  sync: boolean;
  /** Each site's server: its port on 127.0.0.1 (the folder is `<resource dir>/<site>`). */
  servers: Record<string, { port: number }>;
  /** The superuser `postgres` of every server, for the provisioner itself. */
  adminPassword: string;
  /** The `replicator` role standbys stream as. */
  replicationPassword: string;
  failovers: number;
  lastFailover?: FailoverRecord;
}

/** A resource on a server the platform does not run: only its database and role are the platform's. */
export interface ExistingPostgresState {
  mode: 'existing';
  database: string;
  user: string;
  password: string;
  primary: string;
  host: string;
  port: number;
}

/** What the control plane keeps for a postgres resource (plain JSON). */
export type PostgresState = EmbeddedPostgresState | ExistingPostgresState;

/**
 * What a client needs: the database, the role and its password, where each site's server is and
 * which one is the primary now. A type (not an interface) so it is a plain record.
 */
export type PostgresCredentials = {
  kind: 'postgres';
  database: string;
  user: string;
  password: string;
  /** The site whose server takes writes now. */
  primary: string;
  hosts: Record<string, { host: string; port: number }>;
  /** A connection URL to the primary, for tools (psql). */
  url: string;
};

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** Refuses a spec the provisioner cannot serve, saying which field to change. */
export function checkSpec(spec: StorageSpec): void {
  const problems: string[] = [];
  if (!NAME.test(spec.name)) problems.push(`name '${spec.name}' must be lower-case letters, digits and dashes, starting with a letter`);
  if (spec.sites.length === 0) problems.push('sites must name at least one site');
  for (const site of spec.sites) if (!NAME.test(site)) problems.push(`site '${site}' must be lower-case letters, digits and dashes`);
  if (new Set(spec.sites).size !== spec.sites.length) problems.push('sites must not repeat');
  if (!spec.sites.includes(spec.primary)) problems.push(`primary '${spec.primary}' must be one of the sites (${spec.sites.join(', ')})`);
  if (problems.length) throw new StorageError('BAD_REQUEST', `cannot create postgres resource: ${problems.join('; ')}`);
}

export function credentialsOf(state: PostgresState): PostgresCredentials {
  const hosts: Record<string, { host: string; port: number }> = {};
  if (state.mode === 'existing') hosts[state.primary] = { host: state.host, port: state.port };
  else for (const [site, s] of Object.entries(state.servers)) hosts[site] = { host: '127.0.0.1', port: s.port };
  const at = hosts[state.primary];
  const url = at
    ? `postgres://${encodeURIComponent(state.user)}:${encodeURIComponent(state.password)}@${at.host}:${at.port}/${encodeURIComponent(state.database)}`
    : '';
  return { kind: 'postgres', database: state.database, user: state.user, password: state.password, primary: state.primary, hosts, url };
}

/** Credentials as handed over (plain JSON), checked: a BAD_REQUEST names what is missing. */
export function asPostgresCredentials(value: Record<string, unknown>): PostgresCredentials {
  const missing = ['database', 'user', 'password', 'primary'].filter((k) => typeof value[k] !== 'string');
  const hosts = value.hosts as Record<string, { host?: unknown; port?: unknown }> | undefined;
  const at = typeof value.primary === 'string' ? hosts?.[value.primary] : undefined;
  if (!at || typeof at.host !== 'string' || typeof at.port !== 'number') missing.push('hosts[primary] (host and port)');
  if (missing.length) {
    throw new StorageError('BAD_REQUEST', `these are not a postgres resource's credentials (missing ${missing.join(', ')}): ask the platform for the resource's credentials again`);
  }
  return value as PostgresCredentials;
}
