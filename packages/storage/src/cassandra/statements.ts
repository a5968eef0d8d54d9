import { StorageError } from '../provisioner.ts';
import { quoteDataCentre, quoteName, quoteText } from './names.ts';

/** What a resource is on the cluster: a keyspace replicated to its data centres, and a role. */
export interface CassandraPlan {
  keyspace: string;
  role: string;
  /** Replicas in each data centre, in the resource's site order. */
  replication: Record<string, number>;
}

/**
 * What the role may do in its keyspace: everything a service needs to own its tables, and
 * nothing outside it (no AUTHORIZE: it cannot hand its rights to anyone).
 */
export const ROLE_PERMISSIONS = ['CREATE', 'ALTER', 'DROP', 'SELECT', 'MODIFY'] as const;

/**
 * The statements that make a resource, in order; each is idempotent, so a repeated create
 * converges. The role's password is set again (ALTER ROLE) in case the role was left by an earlier
 * try whose password is lost. They hold the password: never log them.
 *
 * @example
 * createStatements({ keyspace: 'sq_orders', role: 'sq_orders', replication: { sto: 3 } }, 'pw')[0]
 * // CREATE KEYSPACE IF NOT EXISTS "sq_orders" WITH replication = {'class': 'NetworkTopologyStrategy', 'sto': 3}
 */
export function createStatements(plan: CassandraPlan, password: string): string[] {
  const keyspace = quoteName(plan.keyspace);
  const role = quoteName(plan.role);
  if (password.length < 16) throw new StorageError('BAD_REQUEST', 'a cassandra role password must be at least 16 characters');
  return [
    `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = ${replicationMap(plan.replication)}`,
    `CREATE ROLE IF NOT EXISTS ${role} WITH PASSWORD = ${quoteText(password)} AND LOGIN = true`,
    `ALTER ROLE ${role} WITH PASSWORD = ${quoteText(password)}`,
    ...ROLE_PERMISSIONS.map((p) => `GRANT ${p} ON KEYSPACE ${keyspace} TO ${role}`),
  ];
}

/** The statements that remove a resource: its keyspace with its data, then its role and grants. */
export function destroyStatements(plan: Pick<CassandraPlan, 'keyspace' | 'role'>): string[] {
  return [`DROP KEYSPACE IF EXISTS ${quoteName(plan.keyspace)}`, `DROP ROLE IF EXISTS ${quoteName(plan.role)}`];
}

/** `{'class': 'NetworkTopologyStrategy', 'dc': n, ...}`, each factor checked. */
export function replicationMap(replication: Record<string, number>): string {
  const entries = Object.entries(replication);
  if (entries.length === 0) throw new StorageError('BAD_REQUEST', 'a cassandra keyspace needs at least one data centre to live in');
  const parts = entries.map(([dc, rf]) => {
    if (!Number.isInteger(rf) || rf < 1 || rf > 32) {
      throw new StorageError('BAD_REQUEST', `the replication factor of data centre '${dc}' must be a whole number from 1 to 32, not ${rf}`);
    }
    return `${quoteDataCentre(dc)}: ${rf}`;
  });
  return `{'class': 'NetworkTopologyStrategy', ${parts.join(', ')}}`;
}
