import { StorageError } from '../provisioner.ts';

/** Cassandra's limit on a keyspace name (and so on the role named after it). */
const MAX_KEYSPACE = 48;
const IDENTIFIER = /^[a-z][a-z0-9_]*$/;
/** A data centre name as a replication option: no quotes, spaces or anything CQL would read. */
const DATA_CENTRE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * The keyspace (and role) of a resource: `prefix` + its name, dashes made underscores, since
 * resource names are lower-case letters, digits and dashes and CQL names are not.
 *
 * @example keyspaceName('orders-eu') // 'sq_orders_eu'
 */
export function keyspaceName(resource: string, prefix = 'sq_'): string {
  if (!/^[a-z][a-z0-9-]*$/.test(resource)) {
    throw new StorageError('BAD_REQUEST', `'${resource}' cannot name a cassandra resource: use lower-case letters, digits and dashes, starting with a letter`);
  }
  const name = `${prefix}${resource.replace(/-/g, '_')}`;
  if (!IDENTIFIER.test(name)) {
    throw new StorageError('BAD_REQUEST', `the keyspace prefix '${prefix}' makes '${name}', not a CQL name: use lower-case letters, digits and underscores, starting with a letter`);
  }
  if (name.length > MAX_KEYSPACE) {
    throw new StorageError('BAD_REQUEST', `the keyspace '${name}' is longer than Cassandra's ${MAX_KEYSPACE} characters: name the resource in at most ${MAX_KEYSPACE - prefix.length}`);
  }
  return name;
}

/** A checked name, double-quoted so CQL takes it exactly. Throws on anything not made by `keyspaceName`. */
export function quoteName(name: string): string {
  if (!IDENTIFIER.test(name) || name.length > MAX_KEYSPACE) {
    throw new StorageError('BAD_REQUEST', `'${name}' is not a keyspace or role name this platform makes (lower-case letters, digits and underscores, at most ${MAX_KEYSPACE})`);
  }
  return `"${name}"`;
}

/** A checked data centre name as a CQL string literal. */
export function quoteDataCentre(dc: string): string {
  if (!DATA_CENTRE.test(dc)) {
    throw new StorageError('BAD_REQUEST', `'${dc}' cannot name a data centre: use letters, digits, dots, dashes and underscores (map sites to the cluster's data centres with cassandra.dataCenters)`);
  }
  return `'${dc}'`;
}

/** Any text as a CQL string literal: single quotes doubled. */
export function quoteText(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
