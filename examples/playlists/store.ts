/**
 * Where playlists are kept: the table `playlists` in this service's PostgreSQL (storage
 * `playlists`), made on first use if it is missing.
 *
 * A failover breaks the pool's connections, and a statement whose connection broke may or may not
 * have committed, so every statement here is tried again (until the call's deadline) and every
 * write is safe to run twice: a create inserts under an id it drew beforehand and finds its own
 * row if an earlier try committed; a change is made at the version it read and marks the row with
 * its own change id, so a repeated try recognises its own change instead of applying it again.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { BadRequestError, HandlerError, type Context } from '@squadron/sdk';

export interface Playlist {
  id: string;
  owner: string;
  title: string;
  tracks: string[];
  /** 1 on creation, +1 on every change: lets consumers of the events drop stale ones. */
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** The postgres resource this service owns (examples/squads.yaml). */
export const STORE = 'playlists';

/** Each statement is idempotent, and they run one by one under a lock: two instances may start at once. */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS playlists (
     id TEXT PRIMARY KEY,
     seq BIGINT NOT NULL,
     owner TEXT NOT NULL,
     title TEXT NOT NULL,
     tracks TEXT[] NOT NULL,
     version INTEGER NOT NULL,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL,
     last_change TEXT NOT NULL
   )`,
  'CREATE INDEX IF NOT EXISTS playlists_by_owner ON playlists (owner, seq)',
  'CREATE SEQUENCE IF NOT EXISTS playlist_ids',
];

const COLUMNS = 'id, owner, title, tracks, version, created_at, updated_at, last_change';

interface Row {
  id: string;
  owner: string;
  title: string;
  tracks: string[];
  version: number;
  /** BIGINT: the driver gives text. */
  created_at: string;
  updated_at: string;
  last_change: string;
}

/** Changes to one playlist racing with this one: beyond this many lost races, give up. */
const MAX_CHANGE_ATTEMPTS = 20;
/** What a try that failed on the connection leaves for the next: it stops short of the deadline. */
const RETRY_MARGIN_MS = 100;
/** SQLSTATEs that say the server, not the statement, failed: a standby, a shutdown, a lost connection. */
const TRANSIENT_STATES = new Set(['25006', '57P01', '57P02', '57P03']);

function toPlaylist(r: Row): Playlist {
  return {
    id: r.id, owner: r.owner, title: r.title, tracks: r.tracks, version: r.version,
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  };
}

/** Whether trying again may work: the connection or the server failed, not the statement. */
function transient(err: unknown): boolean {
  if (err instanceof BadRequestError) return false;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || TRANSIENT_STATES.has(code);
  // A Node socket error, the pool's "is a standby now", or pg's own connection messages.
  if (typeof code === 'string') return code.startsWith('E') || code === 'STORAGE_UNAVAILABLE';
  return err instanceof Error && /connection|terminated|timeout/i.test(err.message);
}

async function transaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => { broken = true; });
    throw err;
  } finally {
    // A connection that could not roll back is not given to the next caller.
    client.release(broken);
  }
}

/** The playlists of one pool (one per process: ctx.storage hands out the same). */
export class PlaylistStore {
  private constructor(private readonly pool: pg.Pool, private readonly ctx: Context) {}

  private static readonly schemas = new WeakMap<pg.Pool, Promise<void>>();

  /** The store for this call, the table made first if this process has not yet. */
  static async open(ctx: Context): Promise<PlaylistStore> {
    const pool = await ctx.storage<pg.Pool>(STORE);
    const store = new PlaylistStore(pool, ctx);
    let schema = PlaylistStore.schemas.get(pool);
    if (!schema) {
      schema = store.retrying(() => transaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(0, 0)');
        for (const statement of SCHEMA) await client.query(statement);
      }));
      // Failed (the database was away past this call's deadline): the next call tries again.
      schema.catch(() => PlaylistStore.schemas.delete(pool));
      PlaylistStore.schemas.set(pool, schema);
    }
    await schema;
    return store;
  }

  async get(id: string): Promise<Playlist | null> {
    const row = await this.row(id);
    return row ? toPlaylist(row) : null;
  }

  /** An owner's playlists, oldest first. */
  async list(owner: string, limit: number): Promise<Playlist[]> {
    const { rows } = await this.retrying(() => this.pool.query<Row>(`SELECT ${COLUMNS} FROM playlists WHERE owner = $1 ORDER BY seq LIMIT $2`, [owner, limit]));
    return rows.map(toPlaylist);
  }

  /** A new playlist, unless its owner has `maxPerOwner` already (BAD_REQUEST). */
  async create(fields: Pick<Playlist, 'owner' | 'title' | 'tracks'>, maxPerOwner: number): Promise<Playlist> {
    const drawn = await this.retrying(() => this.pool.query<{ n: string }>("SELECT nextval('playlist_ids') AS n"));
    const seq = drawn.rows[0]!.n;
    const id = `p${seq}`;
    const now = Date.now();
    return this.retrying(() => transaction(this.pool, async (client) => {
      // One create per owner at a time, so the count below stays true until the insert.
      await client.query('SELECT pg_advisory_xact_lock(1, hashtext($1))', [fields.owner]);
      const mine = await client.query<Row>(`SELECT ${COLUMNS} FROM playlists WHERE id = $1`, [id]);
      if (mine.rows[0]) return toPlaylist(mine.rows[0]); // an earlier try committed; its answer was lost
      const owned = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM playlists WHERE owner = $1', [fields.owner]);
      if ((owned.rows[0]?.n ?? 0) >= maxPerOwner) throw new BadRequestError(`'${fields.owner}' already has ${maxPerOwner} playlists`);
      const { rows } = await client.query<Row>(
        `INSERT INTO playlists (id, seq, owner, title, tracks, version, created_at, updated_at, last_change)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $1) ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
        [id, seq, fields.owner, fields.title, fields.tracks, now],
      );
      return toPlaylist(rows[0]!);
    }));
  }

  /**
   * Append a track, at the version just read; lost to another change, read again and retry.
   * BAD_REQUEST when the playlist is gone or holds `maxTracks` already.
   */
  async addTrack(id: string, trackId: string, maxTracks: number): Promise<Playlist> {
    const change = randomUUID();
    for (let attempt = 0; attempt < MAX_CHANGE_ATTEMPTS; attempt++) {
      const current = await this.row(id);
      if (!current) throw new BadRequestError(`no playlist '${id}'`);
      if (current.last_change === change) return toPlaylist(current); // our own, from a try whose answer was lost
      if (current.tracks.length >= maxTracks) throw new BadRequestError(`playlist '${id}' is full (${maxTracks} tracks)`);
      const { rows } = await this.retrying(() => this.pool.query<Row>(
        `UPDATE playlists SET tracks = array_append(tracks, $3), version = version + 1, updated_at = $4, last_change = $5
         WHERE id = $1 AND version = $2 RETURNING ${COLUMNS}`,
        [id, current.version, trackId, Date.now(), change],
      ));
      if (rows[0]) return toPlaylist(rows[0]);
    }
    throw new HandlerError(`playlist '${id}' is changing too fast; try again in a moment`, { retryable: true });
  }

  private async row(id: string): Promise<Row | null> {
    const { rows } = await this.retrying(() => this.pool.query<Row>(`SELECT ${COLUMNS} FROM playlists WHERE id = $1`, [id]));
    return rows[0] ?? null;
  }

  /** Run `work`, again after a transient failure, backing off, while the call's deadline allows. */
  private async retrying<T>(work: () => Promise<T>): Promise<T> {
    for (let pause = 25; ; pause = Math.min(pause * 2, 500)) {
      try {
        return await work();
      } catch (err) {
        if (!transient(err)) throw err;
        if (this.ctx.remainingMs() < pause + RETRY_MARGIN_MS) {
          throw new HandlerError(`the playlists database did not answer in time (${(err as Error).message}); try again in a few seconds`, { retryable: true, cause: err });
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }
}
