import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  StorageError, type ProvisionContext, type Provisioner, type StorageDescription, type StorageSpec,
} from '../provisioner.ts';
import { locatePostgresBinaries } from './binaries.ts';
import { PostgresCluster, type ClusterDeps } from './cluster.ts';
import { ExistingServer } from './existing-server.ts';
import { failover } from './failover.ts';
import { DEFAULT_FAILOVER_POLICY, FailoverMonitor, type FailoverPolicy } from './monitor.ts';
import { resolveServerUser, serverFolder } from './run-as.ts';
import { checkSpec, credentialsOf, type EmbeddedPostgresState, type PostgresCredentials, type PostgresState } from './state.ts';

export interface PostgresProvisionerOptions {
  /**
   * Use this server instead of running PostgreSQL: each resource is a database and a role there.
   * A URL whose role may create roles and databases, e.g. postgres://admin:pw@db.internal:5432/postgres.
   */
  existingServerUrl?: string;
  /** Where to look for initdb, postgres, pg_basebackup, pg_rewind (default: /usr/lib/postgresql/<newest>/bin, then PATH). */
  binaryDirs?: string[];
  /** The system user the servers run as when the platform runs as root. Default `postgres`. */
  serverUser?: string;
  /** When to fail over on its own; see DEFAULT_FAILOVER_POLICY. */
  failover?: Partial<FailoverPolicy>;
  /** Told each resource's new state after a change the platform did not ask for (an automatic failover). */
  onStateChange?: (name: string, state: PostgresState) => void;
}

/** The major version of PostgreSQL that made the resource's data, when there is data. */
function dataVersion(dir: string, sites: readonly string[]): string | undefined {
  for (const site of sites) {
    try {
      return readFileSync(join(dir, site, 'data', 'PG_VERSION'), 'utf8').trim();
    } catch {
      // No data in this site yet.
    }
  }
  return undefined;
}

interface Running {
  cluster: PostgresCluster;
  monitor: FailoverMonitor;
}

/**
 * The `postgres` kind. By default it runs one PostgreSQL server per site of each resource, from
 * the machine's server programs: the primary in the resource's primary site, a streaming standby
 * (synchronous with --sync) in each other; a monitor fails over when the primary goes silent and
 * rebuilds the old primary as a standby. Given an existing server instead, it only creates a
 * database and a role there. Clients: `postgresPool(() => provisioner.credentials(spec, state))`.
 *
 * @example
 *   const provisioner = new PostgresProvisioner({ onStateChange: (name, state) => keep(name, state) });
 *   const state = await provisioner.create(spec, { dir: '/var/lib/squadron/storage/orders', log });
 */
export class PostgresProvisioner implements Provisioner<PostgresState> {
  readonly kind = 'postgres' as const;
  private readonly existing: ExistingServer | null;
  private readonly policy: FailoverPolicy;
  private readonly running = new Map<string, Running>();

  constructor(private readonly options: PostgresProvisionerOptions = {}) {
    this.existing = options.existingServerUrl ? new ExistingServer(options.existingServerUrl) : null;
    this.policy = { ...DEFAULT_FAILOVER_POLICY, ...options.failover };
  }

  async create(spec: StorageSpec, ctx: ProvisionContext): Promise<PostgresState> {
    checkSpec(spec);
    if (this.existing) return this.existing.create(spec);
    const live = this.running.get(spec.name);
    if (live) return structuredClone(live.cluster.state);
    const deps = this.deps(spec, ctx);
    if (spec.sites.some((site) => existsSync(join(deps.dir, site, 'data')))) {
      throw new StorageError('CONFLICT', `${deps.dir} already holds the servers of a postgres resource named ${spec.name}: start it from its kept state, or destroy it first`);
    }
    const cluster = await PostgresCluster.create(spec, deps);
    this.watch(cluster);
    return structuredClone(cluster.state);
  }

  async start(spec: StorageSpec, state: PostgresState, ctx: ProvisionContext): Promise<PostgresState> {
    if (state.mode === 'existing') return state;
    const live = this.running.get(spec.name);
    if (live) return structuredClone(live.cluster.state);
    const cluster = new PostgresCluster(spec, structuredClone(state), this.deps(spec, ctx));
    try {
      await cluster.start();
    } catch (err) {
      await cluster.stop().catch(() => {});
      throw new StorageError('STORAGE_UNAVAILABLE', `could not start postgres resource ${spec.name}: ${(err as Error).message}`, { cause: err });
    }
    this.watch(cluster);
    return structuredClone(cluster.state);
  }

  async stop(spec: StorageSpec, state: PostgresState, ctx: ProvisionContext): Promise<void> {
    if (state.mode === 'existing') return;
    const live = this.running.get(spec.name);
    this.running.delete(spec.name);
    if (live) {
      await live.monitor.stop();
      await live.cluster.stop();
    } else {
      // Servers an earlier platform process left running.
      await new PostgresCluster(spec, state, this.deps(spec, ctx)).stop();
    }
  }

  async describe(spec: StorageSpec, state: PostgresState, _ctx: ProvisionContext): Promise<StorageDescription> {
    if (state.mode === 'existing') return this.existingServer().describe(spec, state);
    const live = this.running.get(spec.name);
    if (live) return live.cluster.describe();
    return {
      sites: spec.sites.map((site) => ({
        site, role: 'down', endpoint: `127.0.0.1:${state.servers[site]?.port ?? '?'}`, up: false, detail: 'not started',
      })),
      facts: { mode: 'embedded', primary: state.primary, sync: state.sync, database: state.database, failovers: state.failovers, lastFailover: state.lastFailover ?? null },
    };
  }

  /** What clients need; the running resource's own state wins over a kept copy an automatic failover made stale. */
  credentials(spec: StorageSpec, state: PostgresState): PostgresCredentials {
    return credentialsOf(this.running.get(spec.name)?.cluster.state ?? state);
  }

  async failover(spec: StorageSpec, state: PostgresState, _ctx: ProvisionContext, toSite?: string): Promise<PostgresState> {
    if (state.mode === 'existing') {
      throw new StorageError('NOT_SUPPORTED', `postgres resource ${spec.name} is on an existing server the platform does not run: fail it over where that server is managed`);
    }
    const live = this.running.get(spec.name);
    if (!live) throw new StorageError('STORAGE_UNAVAILABLE', `postgres resource ${spec.name} is not running here: start it first`);
    await failover(live.cluster, { ...(toSite !== undefined ? { to: toSite } : {}), reason: 'command' });
    return structuredClone(live.cluster.state);
  }

  async destroy(spec: StorageSpec, state: PostgresState, ctx: ProvisionContext): Promise<void> {
    if (state.mode === 'existing') return this.existingServer().destroy(spec);
    const live = this.running.get(spec.name);
    this.running.delete(spec.name);
    if (live) await live.monitor.stop();
    await (live?.cluster ?? new PostgresCluster(spec, state, this.deps(spec, ctx))).destroy();
    rmSync(ctx.dir, { recursive: true, force: true });
  }

  /** The process id of a site's postmaster while this process runs it: for operators and crash tests. */
  pidOf(name: string, site: string): number | undefined {
    return this.running.get(name)?.cluster.servers.get(site)?.pid;
  }

  /** The live state of a running resource (after automatic failovers), or undefined. */
  stateOf(name: string): PostgresState | undefined {
    const live = this.running.get(name);
    return live ? structuredClone(live.cluster.state) : undefined;
  }

  private deps(spec: StorageSpec, ctx: ProvisionContext): ClusterDeps {
    const user = resolveServerUser(this.options.serverUser);
    // Found before any folder is made, so that a machine without them is left as it was.
    locatePostgresBinaries(this.options.binaryDirs);
    const dir = serverFolder(ctx.dir, user);
    return {
      binaries: locatePostgresBinaries(this.options.binaryDirs, dataVersion(dir, spec.sites)),
      user,
      log: ctx.log,
      dir,
      ownDir: dir !== ctx.dir,
      onChange: (state: EmbeddedPostgresState) => this.options.onStateChange?.(spec.name, state),
    };
  }

  private watch(cluster: PostgresCluster): void {
    const monitor = new FailoverMonitor(cluster, this.policy);
    this.running.set(cluster.spec.name, { cluster, monitor });
    monitor.start();
  }

  private existingServer(): ExistingServer {
    if (!this.existing) {
      throw new StorageError('BAD_REQUEST', 'this resource lives on an existing PostgreSQL server, but the provisioner was not given its URL (existingServerUrl)');
    }
    return this.existing;
  }
}
