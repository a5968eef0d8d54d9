import { StorageError } from './provisioner.ts';

/** What a kind's client factory gets: where the caller runs, and its resource's credentials (read afresh on reconnects). */
export interface StorageClientOptions {
  credentials: () => Record<string, unknown>;
  /** The caller's site: served first (kv, memcached), the local data centre (cassandra). */
  site: string;
  /** The calling service (kv keys live in its namespace). */
  service: string;
  /** The resource's name. */
  name: string;
}

/**
 * The client a handler gets from ctx.storage(NAME), by kind. Each kind's module is loaded only
 * when first used, so a service loads only the driver it needs.
 */
export async function openStorageClient(kind: string, options: StorageClientOptions): Promise<unknown> {
  switch (kind) {
    case 'kv': {
      const { KvClient } = await import('./kv/client.ts');
      const { serviceNamespace } = await import('./kv/namespaces.ts');
      // A service's keys live in its own namespace (svc.NAME: no app's can be the same); quotas apply to it.
      return new KvClient({ credentials: () => options.credentials() as unknown as import('./kv/client.ts').KvEndpoints, namespace: serviceNamespace(options.service), site: options.site });
    }
    case 'postgres': {
      const { postgresPool } = await import('./postgres/client.ts');
      return postgresPool(options.credentials);
    }
    case 'memcached': {
      const { MemcachedClient } = await import('./memcached/client.ts');
      return new MemcachedClient({ credentials: () => options.credentials() as unknown as import('./memcached/index.ts').MemcachedCredentials, site: options.site });
    }
    case 'cassandra': {
      const { openCassandraClient } = await import('./cassandra/client.ts');
      return openCassandraClient({ credentials: () => options.credentials() as unknown as import('./cassandra/index.ts').CassandraCredentials, site: options.site });
    }
    default:
      throw new StorageError('NOT_SUPPORTED', `storage of kind '${kind}' has no client in this version of the SDK; upgrade the service's @squadron/sdk`);
  }
}
