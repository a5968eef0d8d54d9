import type { Client, ClientOptions } from 'cassandra-driver';
import { StorageError } from '../provisioner.ts';

/** What a service gets to reach its cassandra resource. */
export type CassandraCredentials = {
  contactPoints: string[];
  keyspace: string;
  user: string;
  password: string;
  /** The cluster's data centre for each site of the resource, in its site order. */
  localDataCenter: Record<string, string>;
};

/** cassandra-driver's `types.consistencies.localQuorum`, without loading the driver to read it. */
export const LOCAL_QUORUM = 0x06;

/**
 * The driver options for a caller in `site`: its own data centre as the local one (the driver
 * then sends requests there first) and LOCAL_QUORUM, so reads and writes wait for a majority of
 * that data centre's replicas and never for another site's. A caller in a site the resource is
 * not in uses the resource's first site.
 */
export function cassandraClientOptions(credentials: CassandraCredentials, site: string): ClientOptions {
  const dcs = credentials.localDataCenter ?? {};
  const localDataCenter = dcs[site] ?? Object.values(dcs)[0];
  if (!localDataCenter || !credentials.contactPoints?.length || !credentials.keyspace) {
    throw new StorageError(
      'BAD_REQUEST',
      'cassandra credentials need contactPoints, keyspace, user, password and localDataCenter by site: pass the resource\'s credentials as `squadron storage show` gives them',
    );
  }
  return {
    contactPoints: credentials.contactPoints,
    localDataCenter,
    keyspace: credentials.keyspace,
    credentials: { username: credentials.user, password: credentials.password },
    queryOptions: { consistency: LOCAL_QUORUM, prepare: true },
  };
}

/**
 * The driver client a handler gets for a cassandra resource, not yet connected (it connects on
 * its first query). The driver is loaded on first use, so services without cassandra never load it.
 *
 * @example
 * const db = await openCassandraClient({ credentials, site: 'sto' });
 * await db.execute('SELECT * FROM orders WHERE id = ?', [id]); // at LOCAL_QUORUM in sto
 */
export async function openCassandraClient(options: { credentials: CassandraCredentials | (() => CassandraCredentials); site: string }): Promise<Client> {
  const credentials = typeof options.credentials === 'function' ? options.credentials() : options.credentials;
  const clientOptions = cassandraClientOptions(credentials, options.site);
  const { Client: DriverClient } = (await import('cassandra-driver')).default;
  return new DriverClient(clientOptions);
}
