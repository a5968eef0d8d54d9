import pg from 'pg';
import { StorageError } from '../provisioner.ts';
import { asPostgresCredentials, type PostgresCredentials } from './state.ts';

/**
 * Where the resource's primary is now: the platform's answer (the provisioner's `credentials`,
 * or what an instance was handed), asked again after a connection fails.
 */
export type CredentialSource = () => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface PostgresPoolOptions {
  /** Connections at most. Default 10. */
  max?: number;
  /** Gives up connecting after this long. Default 2000 ms. */
  connectionTimeoutMillis?: number;
  /** Closes a connection idle this long. Default 10000 ms. */
  idleTimeoutMillis?: number;
  /** Asks the source again at most this often. Default 200 ms. */
  refreshMs?: number;
}

/**
 * A `pg` Pool bound to the resource's database and role, whose new connections go to the
 * current primary. When a connection fails, or lands on a server that is a standby now, the pool
 * asks `source` again where the primary is; connections opened after that go there. So after a
 * failover queries fail for a moment (the old primary's connections break) and then work again
 * within a couple of seconds, with no restart. The pool never retries a statement itself: a
 * statement whose connection broke may or may not have committed, and only the caller knows
 * whether running it again is safe (make writes idempotent, e.g. a unique key with
 * ON CONFLICT DO NOTHING, and retry them).
 *
 * @example
 *   const pool = await postgresPool(() => provisioner.credentials(spec, state));
 *   await pool.query('INSERT INTO orders (id) VALUES ($1) ON CONFLICT DO NOTHING', [id]);
 */
export async function postgresPool(source: CredentialSource, options: PostgresPoolOptions = {}): Promise<pg.Pool> {
  const router = new PrimaryRouter(source, asPostgresCredentials(await source()), options.refreshMs ?? 200);

  class PrimaryClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, ...router.target() });
      this.on('error', () => router.stale());
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: (err: Error) => void): void;
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | void {
      if (callback) {
        super.connect((err: Error) => {
          if (err) router.stale();
          callback(err);
        });
        return;
      }
      return super.connect().catch((err: unknown) => {
        router.stale();
        throw err;
      });
    }
  }

  const pool = new pg.Pool({
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 2_000,
    idleTimeoutMillis: options.idleTimeoutMillis ?? 10_000,
    Client: PrimaryClient as unknown as new () => pg.ClientBase,
    // A server can still be found where the primary was after it came back as a standby.
    onConnect: async (client: pg.ClientBase) => {
      const { rows } = await client.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
      if (rows[0]?.standby) {
        router.stale();
        throw new StorageError('STORAGE_UNAVAILABLE', `${router.where()} is a standby now, not the primary of database ${router.current.database}: try again in a moment`);
      }
    },
  });
  // An idle connection broken by a failover is dropped by the pool; without a listener its error would end the process.
  pool.on('error', () => router.stale());
  return pool;
}

/** Keeps the last known primary and asks the source again, at most every `refreshMs`, when told it is stale. */
class PrimaryRouter {
  private asking = false;
  private lastAsked = 0;

  constructor(private readonly source: CredentialSource, public current: PostgresCredentials, private readonly refreshMs: number) {}

  target(): pg.ClientConfig {
    const c = this.current;
    const at = c.hosts[c.primary];
    if (!at) throw new StorageError('STORAGE_UNAVAILABLE', `the credentials name primary site ${c.primary} but give no host for it: ask the platform again`);
    return { host: at.host, port: at.port, user: c.user, password: c.password, database: c.database };
  }

  where(): string {
    const at = this.current.hosts[this.current.primary];
    return at ? `${at.host}:${at.port} (site ${this.current.primary})` : `site ${this.current.primary}`;
  }

  stale(): void {
    if (this.asking) return;
    this.asking = true;
    const wait = Math.max(0, this.lastAsked + this.refreshMs - Date.now());
    setTimeout(() => {
      this.lastAsked = Date.now();
      Promise.resolve()
        .then(() => this.source())
        .then((fresh) => {
          this.current = asPostgresCredentials(fresh);
        })
        .catch(() => {
          // Keep the last answer; the next failure asks again.
        })
        .finally(() => {
          this.asking = false;
        });
    }, wait).unref();
  }
}
