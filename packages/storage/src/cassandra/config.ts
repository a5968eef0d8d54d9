import { StorageError } from '../provisioner.ts';

/** The cluster the platform's cassandra resources live on, and how they are laid out there. */
export interface CassandraOptions {
  /** Hosts to first reach the cluster by (`host` or `host:port`). Env: CASSANDRA_CONTACT_POINTS, comma-separated. */
  contactPoints?: string[];
  /** The data centre of the platform's own connection. Env: CASSANDRA_LOCAL_DC; default: the resource's first site's. */
  localDataCenter?: string;
  /** A superuser (or a role that may create keyspaces and roles). Env: CASSANDRA_USER, CASSANDRA_PASSWORD. */
  user?: string;
  password?: string;
  /** Replicas in each data centre: one number for all, or by site. Default 3. */
  replicationFactor?: number | Record<string, number>;
  /** The cluster's data centre for each site, where their names differ. Default: the site's name. */
  dataCenters?: Record<string, string>;
  /** Put before each resource's name to make its keyspace and role. Default `sq_`. */
  keyspacePrefix?: string;
  /** How long reaching the cluster may take. Default 5 s. */
  connectTimeoutMs?: number;
}

/** Options from CASSANDRA_CONTACT_POINTS, CASSANDRA_LOCAL_DC, CASSANDRA_USER and CASSANDRA_PASSWORD. */
export function cassandraOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): CassandraOptions {
  const contactPoints = (env.CASSANDRA_CONTACT_POINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return {
    ...(contactPoints.length ? { contactPoints } : {}),
    ...(env.CASSANDRA_LOCAL_DC ? { localDataCenter: env.CASSANDRA_LOCAL_DC } : {}),
    ...(env.CASSANDRA_USER ? { user: env.CASSANDRA_USER, password: env.CASSANDRA_PASSWORD ?? '' } : {}),
  };
}

/** The contact points, or a BAD_REQUEST that says where to set them. */
export function requireContactPoints(options: CassandraOptions): string[] {
  const points = options.contactPoints ?? [];
  if (points.length === 0) {
    throw new StorageError(
      'BAD_REQUEST',
      'cassandra resources live on a cluster you name, and none is named: set cassandra.contactPoints in the platform config ' +
        '(or CASSANDRA_CONTACT_POINTS=host1,host2). No Cassandra server runs on the platform\'s own machines.',
    );
  }
  return points;
}

/** The data centre of each site of a resource, in its site order. */
export function dataCentresOf(sites: string[], options: CassandraOptions): Record<string, string> {
  return Object.fromEntries(sites.map((site) => [site, options.dataCenters?.[site] ?? site]));
}

/** Replicas in each data centre of a resource, in its site order. */
export function replicationOf(sites: string[], options: CassandraOptions): Record<string, number> {
  const rf = options.replicationFactor ?? 3;
  const dcs = dataCentresOf(sites, options);
  return Object.fromEntries(sites.map((site) => [dcs[site]!, typeof rf === 'number' ? rf : (rf[site] ?? 3)]));
}
