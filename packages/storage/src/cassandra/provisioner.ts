import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'cassandra-driver';
import { StorageError, type ProvisionContext, type Provisioner, type SiteState, type StorageDescription, type StorageSpec } from '../provisioner.ts';
import type { CassandraCredentials } from './client.ts';
import { dataCentresOf, replicationOf, requireContactPoints, type CassandraOptions } from './config.ts';
import { keyspaceName } from './names.ts';
import { createStatements, destroyStatements, type CassandraPlan } from './statements.ts';

/** What the cassandra kind keeps for a resource (the password included: it is the only copy). */
export interface CassandraState extends CassandraPlan {
  contactPoints: string[];
  password: string;
  /** The cluster's data centre for each site. */
  dataCenters: Record<string, string>;
}

/**
 * The `cassandra` kind, on a cluster the user names: a keyspace with NetworkTopologyStrategy over
 * the resource's sites (a replication factor for each) and a role that owns it, made and dropped
 * through cassandra-driver. The platform runs nothing: `start` and `stop` only check or close its
 * own connection; `destroy` drops the keyspace, with its data, and the role.
 */
export class CassandraProvisioner implements Provisioner<CassandraState> {
  readonly kind = 'cassandra' as const;
  private admin: Promise<Client> | null = null;

  constructor(private readonly options: CassandraOptions) {}

  /** The statements `create` would run for `spec` (the password as given). */
  plan(spec: StorageSpec): CassandraPlan {
    if (spec.sites.length === 0) throw new StorageError('BAD_REQUEST', `cassandra resource ${spec.name} needs at least one site`);
    const name = keyspaceName(spec.name, this.options.keyspacePrefix);
    return { keyspace: name, role: name, replication: replicationOf(spec.sites, this.options) };
  }

  async create(spec: StorageSpec, ctx: ProvisionContext): Promise<CassandraState> {
    const plan = this.plan(spec);
    const contactPoints = requireContactPoints(this.options);
    const client = await this.connect(spec);
    // A repeated create keeps the password of the first, so the state it returns is the same.
    const kept = readPassword(ctx.dir);
    const password = kept ?? randomBytes(24).toString('base64url');
    // What existed before, so that a failure undoes only what this call made.
    const existed = await this.exists(client, plan);
    try {
      if (!kept) writePassword(ctx.dir, password);
      for (const statement of createStatements(plan, password)) await this.run(client, statement, spec);
    } catch (err) {
      const undo = destroyStatements(plan).filter((s) => (s.startsWith('DROP KEYSPACE') ? !existed.keyspace : !existed.role));
      for (const statement of undo) await client.execute(statement).catch(() => undefined);
      if (!kept) rmSync(join(ctx.dir, PASSWORD_FILE), { force: true });
      throw err;
    }
    ctx.log.info({ resource: spec.name, keyspace: plan.keyspace, replication: plan.replication }, 'cassandra keyspace and role created');
    return { ...plan, contactPoints, password, dataCenters: dataCentresOf(spec.sites, this.options) };
  }

  /** Nothing runs on the platform; the state is checked by the next describe. */
  async start(_spec: StorageSpec, state: CassandraState, _ctx?: ProvisionContext): Promise<CassandraState> {
    return state;
  }

  /** Nothing runs on the platform: the keyspace stays served by its cluster. */
  async stop(_spec?: StorageSpec, _state?: CassandraState, _ctx?: ProvisionContext): Promise<void> {}

  async describe(spec: StorageSpec, state: CassandraState, _ctx?: ProvisionContext): Promise<StorageDescription> {
    let client: Client;
    try {
      client = await this.connect(spec);
    } catch (err) {
      const detail = (err as Error).message;
      return { sites: spec.sites.map((site) => ({ site, role: 'down', endpoint: null, up: false, detail })), facts: { keyspace: state.keyspace, role: state.role } };
    }
    const hosts = client.hosts.values();
    const sites: SiteState[] = spec.sites.map((site) => {
      const dc = state.dataCenters[site] ?? site;
      const mine = hosts.filter((h) => h.datacenter === dc);
      const up = mine.filter((h) => h.isUp());
      return {
        site, role: up.length > 0 ? 'replica' : 'down', endpoint: mine.map((h) => h.address).join(',') || null, up: up.length > 0,
        detail: `data centre ${dc}: ${up.length}/${mine.length} nodes up, ${state.replication[dc] ?? 0} replicas`,
      };
    });
    const row = await client.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [state.keyspace]).then((r) => r.first(), () => null);
    return {
      sites,
      facts: { keyspace: state.keyspace, role: state.role, replication: row ? row.get('replication') : null, exists: row !== null, contactPoints: state.contactPoints },
    };
  }

  credentials(_spec: StorageSpec, state: CassandraState): CassandraCredentials {
    return { contactPoints: state.contactPoints, keyspace: state.keyspace, user: state.role, password: state.password, localDataCenter: state.dataCenters };
  }

  async failover(spec: StorageSpec, _state?: CassandraState, _ctx?: ProvisionContext, _toSite?: string): Promise<CassandraState> {
    throw new StorageError(
      'NOT_SUPPORTED',
      `cassandra resource ${spec.name} has no primary: every data centre takes reads and writes at LOCAL_QUORUM, and the cluster itself copes with a lost one`,
    );
  }

  async destroy(spec: StorageSpec, state: CassandraState, ctx: ProvisionContext): Promise<void> {
    const client = await this.connect(spec);
    for (const statement of destroyStatements(state)) await this.run(client, statement, spec);
    rmSync(ctx.dir, { recursive: true, force: true });
    ctx.log.info({ resource: spec.name, keyspace: state.keyspace }, 'cassandra keyspace and role dropped');
  }

  /** Close the platform's own connection to the cluster. */
  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    if (admin) await (await admin.catch(() => null))?.shutdown();
  }

  /** The platform's connection, made once and kept; a failed one is tried afresh next time. */
  private connect(spec: StorageSpec): Promise<Client> {
    if (this.admin) return this.admin;
    const contactPoints = requireContactPoints(this.options);
    const o = this.options;
    const attempt = (async () => {
      const { Client: DriverClient } = (await import('cassandra-driver')).default;
      const client = new DriverClient({
        contactPoints,
        localDataCenter: o.localDataCenter ?? dataCentresOf(spec.sites, o)[spec.sites[0]!]!,
        ...(o.user ? { credentials: { username: o.user, password: o.password ?? '' } } : {}),
        socketOptions: { connectTimeout: o.connectTimeoutMs ?? 5_000 },
      });
      try {
        await client.connect();
      } catch (err) {
        await client.shutdown().catch(() => undefined);
        throw unavailable(contactPoints, err);
      }
      return client;
    })();
    this.admin = attempt;
    attempt.catch(() => {
      if (this.admin === attempt) this.admin = null;
    });
    return attempt;
  }

  private async exists(client: Client, plan: CassandraPlan): Promise<{ keyspace: boolean; role: boolean }> {
    const keyspace = await client.execute('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [plan.keyspace]);
    const role = await client.execute('SELECT role FROM system_auth.roles WHERE role = ?', [plan.role]).catch(() => null);
    return { keyspace: keyspace.rowLength > 0, role: role === null || role.rowLength > 0 };
  }

  /** One statement, its failure turned into what to do about it (the statement is not shown: it may hold a password). */
  private async run(client: Client, statement: string, spec: StorageSpec): Promise<void> {
    try {
      await client.execute(statement);
    } catch (err) {
      const verb = statement.split(' ').slice(0, 2).join(' ');
      const message = (err as Error).message;
      const code = (err as { code?: number }).code;
      if (code === 0x2100) {
        throw new StorageError('STORAGE_UNAVAILABLE', `the cluster refused ${verb} for ${spec.name}: ${message}. Give the platform a superuser (cassandra.user, or CASSANDRA_USER and CASSANDRA_PASSWORD); roles and grants need PasswordAuthenticator and CassandraAuthorizer`, { cause: err });
      }
      if (code === 0x2000 || code === 0x2200 || code === 0x2300) {
        throw new StorageError('BAD_REQUEST', `the cluster refused ${verb} for ${spec.name}: ${message}. If it names a data centre, map the sites to the cluster's data centres (cassandra.dataCenters)`, { cause: err });
      }
      throw new StorageError('STORAGE_UNAVAILABLE', `${verb} for ${spec.name} failed on the cluster: ${message}; try again once the cluster is healthy`, { cause: err });
    }
  }
}

/** The role's password, kept in the resource's folder (readable by the platform's user only). */
const PASSWORD_FILE = 'cassandra-password';

function readPassword(dir: string): string | null {
  try {
    return readFileSync(join(dir, PASSWORD_FILE), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

function writePassword(dir: string, password: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
}

function unavailable(contactPoints: string[], err: unknown): StorageError {
  const reasons = Object.entries((err as { innerErrors?: Record<string, Error> }).innerErrors ?? {}).map(([host, e]) => `${host}: ${e.message}`);
  return new StorageError(
    'STORAGE_UNAVAILABLE',
    `cannot reach the Cassandra cluster at ${contactPoints.join(', ')} (${reasons.join('; ') || (err as Error).message}): ` +
      'check cassandra.contactPoints (or CASSANDRA_CONTACT_POINTS), the credentials, and that the cluster is up',
    { cause: err },
  );
}
