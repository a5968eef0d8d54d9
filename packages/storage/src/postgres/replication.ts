import type { Logger } from 'pino';
import type { PostgresBinaries } from './binaries.ts';
import { runTool, type ServerUser } from './run-as.ts';
import type { PostgresServer } from './server.ts';

/** The role standbys stream as; it can read the WAL and nothing else. */
export const REPLICATION_USER = 'replicator';

/** The replication slot a standby streams through: the primary keeps the WAL it has not yet received. */
export function slotName(site: string): string {
  return `sq_${site.replace(/[^a-z0-9]/g, '_')}`;
}

/**
 * A primary's role settings. With `sync`, a commit returns only once one of the standbys has
 * flushed it (ANY 1: the most advanced standby always holds every acknowledged commit), and
 * waits while no standby is streaming: the price of losing nothing.
 */
export function primarySettings(sync: boolean, standbys: readonly string[]): Record<string, string> {
  return {
    synchronous_standby_names: sync && standbys.length > 0 ? `ANY 1 (${standbys.map((s) => `"${s}"`).join(', ')})` : '',
  };
}

/**
 * A standby's role settings: where its primary is, its slot there, and its name (application_name).
 * It follows the latest timeline (the default), so it follows a promoted standby too.
 */
export function standbySettings(site: string, primary: PostgresServer, replicationPassword: string): Record<string, string> {
  return {
    primary_conninfo: `host=127.0.0.1 port=${primary.port} user=${REPLICATION_USER} password=${replicationPassword} application_name=${site}`,
    primary_slot_name: slotName(site),
  };
}

/**
 * Creates the standby's slot on the primary unless it is there; from now on the primary keeps its
 * WAL. A slot that gave up its WAL (its standby was away past max_slot_wal_keep_size) is made anew:
 * that standby needs a fresh copy anyway.
 */
export async function ensureSlot(primary: PostgresServer, site: string): Promise<void> {
  await primary.query(
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND wal_status = 'lost' AND NOT active`,
    [slotName(site)],
  );
  await primary.query(
    `SELECT pg_create_physical_replication_slot($1, true)
       WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`,
    [slotName(site)],
  );
}

/** Creates the replication role on a new primary (standbys get it with their copy). */
export async function ensureReplicationRole(primary: PostgresServer, password: string): Promise<void> {
  const exists = await primary.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [REPLICATION_USER]);
  const verb = exists.length ? 'ALTER' : 'CREATE';
  await primary.query(`${verb} ROLE ${REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD '${password.replace(/'/g, "''")}'`);
}

export interface RebuildTools {
  binaries: PostgresBinaries;
  user: ServerUser | null;
  replicationPassword: string;
  log: Logger;
}

/**
 * A stopped server's data directory made a standby of `primary`: with pg_rewind when it has a
 * past of its own (an old primary whose last writes the new one never got are undone), else,
 * or when rewinding fails, with a fresh copy by pg_basebackup. Resolves with how it was done.
 */
export async function rebuildAsStandby(target: PostgresServer, primary: PostgresServer, tools: RebuildTools): Promise<'rewound' | 'copied'> {
  await ensureSlot(primary, target.site);
  let how: 'rewound' | 'copied' = 'copied';
  if (target.hasData()) {
    try {
      // pg_rewind reads the source's timeline from its control file, written at a checkpoint.
      await primary.query('CHECKPOINT');
      const e = primary.endpoint;
      await runTool(tools.binaries.pgRewind, [
        // No fsync here: the server's start right after syncs the whole data directory (it was
        // not shut down cleanly), before it replays or serves anything.
        '-D', target.dataDir, '--no-sync',
        `--source-server=host=${e.host} port=${e.port} user=${e.user} password=${e.password ?? ''} dbname=${e.database}`,
      ], { user: tools.user, cwd: target.dir });
      how = 'rewound';
    } catch (err) {
      tools.log.warn({ site: target.site, err: (err as Error).message }, 'pg_rewind failed; copying the primary afresh');
    }
  }
  if (how === 'copied') await copyFrom(target, primary, tools);
  target.writeRoleSettings(standbySettings(target.site, primary, tools.replicationPassword));
  target.setStandby(true);
  return how;
}

/** A new data directory for `target`: a base backup of `primary`, streamed through the target's slot. */
export async function copyFrom(target: PostgresServer, primary: PostgresServer, tools: RebuildTools): Promise<void> {
  await ensureSlot(primary, target.site);
  target.clearData();
  await runTool(tools.binaries.pgBasebackup, [
    '-D', target.dataDir, '-h', '127.0.0.1', '-p', String(primary.port), '-U', REPLICATION_USER,
    '-X', 'stream', '-S', slotName(target.site), '--checkpoint=fast', '--no-password',
  ], { user: tools.user, cwd: target.dir, env: { PGPASSWORD: tools.replicationPassword } });
  target.writeRoleSettings(standbySettings(target.site, primary, tools.replicationPassword));
  target.setStandby(true);
}

/**
 * Promotes a standby and resolves once it accepts writes. The checkpoint that follows records
 * the new timeline in the control file, so the old primary can be rewound at once.
 */
export async function promote(standby: PostgresServer): Promise<void> {
  const [row] = await standby.query<{ promoted: boolean }>('SELECT pg_promote(true, 60) AS promoted');
  if (!row?.promoted) throw new Error(`site ${standby.site} did not finish promotion within 60 s`);
  await standby.query('CHECKPOINT');
}

/** What a primary knows of each standby streaming from it. */
export interface StandbyStatus {
  site: string;
  state: string;
  syncState: string;
  /** Bytes of WAL the standby has yet to replay. */
  lagBytes: number | null;
}

export async function standbyStatus(primary: PostgresServer, timeoutMs = 1_000): Promise<StandbyStatus[]> {
  const rows = await primary.query<{ site: string; state: string; sync_state: string; lag: number | null }>(
    `SELECT application_name AS site, state, sync_state,
            pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS lag
       FROM pg_stat_replication`,
    [],
    { connectTimeoutMs: timeoutMs, queryTimeoutMs: timeoutMs },
  );
  return rows.map((r) => ({ site: r.site, state: r.state, syncState: r.sync_state, lagBytes: r.lag }));
}

/** How far a standby has received the WAL (bytes from the start), or null when it cannot say. */
export async function receivedPosition(standby: PostgresServer, timeoutMs = 1_000): Promise<number | null> {
  const [row] = await standby.query<{ pos: number | null }>(
    `SELECT pg_wal_lsn_diff(coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), '0/0')::float8 AS pos`,
    [],
    { connectTimeoutMs: timeoutMs, queryTimeoutMs: timeoutMs },
  );
  return row?.pos ?? null;
}
