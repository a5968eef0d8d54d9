import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chownSync, closeSync, existsSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { StorageError } from '../provisioner.ts';
import type { PostgresBinaries } from './binaries.ts';
import { pollUntil } from './poll.ts';
import { endWithThisProcess, killAll, processServes, serverProcesses } from './processes.ts';
import { runTool, serverDir, type ServerUser } from './run-as.ts';
import { queryOnce, type Endpoint, type QueryLimits } from './sql.ts';

/** The superuser of every embedded server; the provisioner alone knows its password. */
export const ADMIN_USER = 'postgres';

/**
 * Settings every server of a resource shares, appended to postgresql.conf at initdb (standbys
 * get them with the base backup). The port is given on the command line instead, and what
 * changes with the server's role lives in replication.conf, which the provisioner rewrites.
 */
const SHARED_SETTINGS = `
# Squadron: the same on every server of this resource.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
# pg_rewind needs hint-bit changes in the WAL to rebuild an old primary as a standby.
wal_log_hints = on
wal_keep_size = '128MB'
# A standby that never comes back must not fill the disk with WAL kept for its slot.
max_slot_wal_keep_size = '2GB'
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = '1s'
# A standby whose primary died retries (and notices a promotion) after this, not the default 5 s.
wal_retrieve_retry_interval = '200ms'
# After a crash, one syncfs of the data directory's file system instead of an fsync per file:
# seconds saved on every restart of a killed server.
recovery_init_sync_method = syncfs
shared_buffers = '32MB'
max_connections = 100
superuser_reserved_connections = 5
include_if_exists = 'replication.conf'
`;

export interface ServerOptions {
  site: string;
  /** The site's own folder: data/ and server.log. */
  dir: string;
  port: number;
  binaries: PostgresBinaries;
  user: ServerUser | null;
  adminPassword: string;
  log: Logger;
}

/** One PostgreSQL server: a data directory and, while it runs, the process serving it. */
export class PostgresServer {
  readonly site: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  port: number;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly options: ServerOptions) {
    this.site = options.site;
    this.dir = options.dir;
    this.dataDir = join(options.dir, 'data');
    this.logFile = join(options.dir, 'server.log');
    this.port = options.port;
  }

  /** The superuser's way in, over TCP on loopback. */
  get endpoint(): Endpoint {
    return { host: '127.0.0.1', port: this.port, user: ADMIN_USER, password: this.options.adminPassword, database: 'postgres' };
  }

  /** The postmaster's process id while it runs. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  hasData(): boolean {
    return existsSync(join(this.dataDir, 'PG_VERSION'));
  }

  /** Whether the data directory starts as a standby (standby.signal). */
  isStandbyOnDisk(): boolean {
    return existsSync(join(this.dataDir, 'standby.signal'));
  }

  /** An empty data directory (and the site's folder around it), to be filled by initdb or a base backup. */
  clearData(): void {
    serverDir(this.dir, this.options.user);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A new data directory: the superuser with its password, scram on TCP, the shared settings. */
  async init(): Promise<void> {
    const { user, binaries, adminPassword } = this.options;
    this.clearData();
    const pwfile = join(this.dir, 'initdb.pw');
    writeFileSync(pwfile, `${adminPassword}\n`, { mode: 0o600 });
    if (user) chownSync(pwfile, user.uid, user.gid);
    try {
      await runTool(binaries.initdb, [
        '-D', this.dataDir, '-U', ADMIN_USER, `--pwfile=${pwfile}`,
        '--auth-local=scram-sha-256', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C',
      ], { user, cwd: this.dir });
    } finally {
      rmSync(pwfile, { force: true });
    }
    appendFileSync(join(this.dataDir, 'postgresql.conf'), SHARED_SETTINGS);
  }

  /** Rewrites replication.conf: the settings that follow the server's role. Takes effect at start or reload. */
  writeRoleSettings(settings: Record<string, string>): void {
    const lines = Object.entries(settings).map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`);
    const file = join(this.dataDir, 'replication.conf');
    writeFileSync(file, `# Written by Squadron at each change of role.\n${lines.join('\n')}\n`, { mode: 0o600 });
    if (this.options.user) chownSync(file, this.options.user.uid, this.options.user.gid);
  }

  /** Makes the data directory start as a standby, or as a primary. */
  setStandby(standby: boolean): void {
    const file = join(this.dataDir, 'standby.signal');
    if (!standby) return rmSync(file, { force: true });
    writeFileSync(file, '');
    if (this.options.user) chownSync(file, this.options.user.uid, this.options.user.gid);
  }

  /** Starts the server and resolves once it accepts connections (read-only ones, for a standby). */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.running) return;
    await this.reap();
    await this.stopLeftover();
    const { user, binaries, log } = this.options;
    const out = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(binaries.postgres, ['-D', this.dataDir, '-c', `port=${this.port}`], {
        cwd: this.dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
        stdio: ['ignore', out, out],
        // Its own session: signals meant for the platform (Ctrl-C) do not reach it; stop() ends it.
        detached: true,
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
      });
    } finally {
      closeSync(out);
    }
    // The server does not hold this process open; stop() ends it, or, if this process dies
    // first (even by SIGKILL), the watchdog does: no server is left running under init.
    child.unref();
    const watch = child.pid === undefined ? null : endWithThisProcess(child.pid, 'QUIT');
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => {
      watch?.release();
      // Backends outliving their postmaster could still acknowledge commits that no walsender
      // will ever send: they go with it, at once.
      killAll(serverProcesses(this.dataDir));
      resolve();
    }));
    child.once('error', (err) => log.error({ err, site: this.site }, 'could not start postgres'));
    // `serverPid`: pino's own `pid` is this process's, and a line holds each key once.
    log.debug({ site: this.site, port: this.port, serverPid: child.pid }, 'postgres starting');
    await pollUntil(async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new StorageError('STORAGE_UNAVAILABLE', `the PostgreSQL server of site ${this.site} exited while starting; its log ${this.logFile} ends with: ${this.logTail()}`);
      }
      return this.answers(1_000);
    }, `the PostgreSQL server of site ${this.site} on port ${this.port} to accept connections (log: ${this.logFile})`, timeoutMs);
  }

  /** A fast shutdown (clients disconnected, a checkpoint written, WAL sent to streaming standbys). */
  async stop(timeoutMs = 20_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) {
      await this.reap();
      await this.stopLeftover();
      return;
    }
    child.kill('SIGINT');
    if (!(await this.waitExit(timeoutMs))) {
      this.options.log.warn({ site: this.site }, 'postgres did not stop in time; killing it');
      this.crash();
      await this.waitExit(timeoutMs);
    }
  }

  /**
   * Resolves true once the postmaster has exited, false after `timeoutMs`. The timer also keeps
   * this process alive meanwhile: the child itself is unref'd.
   */
  private async waitExit(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([this.exited.then(() => true), new Promise<false>((r) => (timer = setTimeout(r, timeoutMs, false)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * SIGKILL to the postmaster and every process of this server: no shutdown, as in a crash; also
   * the fence before a standby is promoted. (PostgreSQL puts each child in a session of its own,
   * so they are found by their working directory, the data directory, not by process group.)
   */
  crash(): void {
    if (this.running && this.child?.pid !== undefined) killAll([this.child.pid]);
    killAll(serverProcesses(this.dataDir));
  }

  /**
   * Kills our server and resolves once none of its processes is left: a killed postmaster's
   * backends hold its shared memory for a moment, and a new server on the same data would refuse
   * to start.
   */
  async reap(): Promise<void> {
    if (!this.child) return;
    this.crash();
    await this.waitExit(10_000);
    await pollUntil(() => {
      const left = serverProcesses(this.dataDir);
      killAll(left);
      return left.length === 0;
    }, `the processes of the old server of site ${this.site} to end`, 10_000, 20);
  }

  /** Whether the server answers a query within `timeoutMs`. */
  async answers(timeoutMs: number): Promise<boolean> {
    try {
      await this.query('SELECT 1', [], { connectTimeoutMs: timeoutMs, queryTimeoutMs: timeoutMs });
      return true;
    } catch {
      return false;
    }
  }

  query<Row extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = [], limits?: QueryLimits): Promise<Row[]> {
    return queryOnce<Row>(this.endpoint, sql, params, limits);
  }

  /** The timeline in the control file: after a failover, the newer primary's is higher. */
  async timeline(): Promise<number> {
    const out = await runTool(this.options.binaries.pgControldata, ['-D', this.dataDir], { user: this.options.user, cwd: this.dir });
    const m = /Latest checkpoint's TimeLineID:\s+(\d+)/.exec(out);
    return m ? Number(m[1]) : 0;
  }

  /** The end of the server's log, for error messages. */
  logTail(bytes = 1200): string {
    try {
      const size = statSync(this.logFile).size;
      const fd = openSync(this.logFile, 'r');
      try {
        const buf = Buffer.alloc(Math.min(bytes, size));
        readSync(fd, buf, 0, buf.length, size - buf.length);
        return buf.toString().trim().split('\n').slice(-4).join(' | ');
      } finally {
        closeSync(fd);
      }
    } catch {
      return '(no log)';
    }
  }

  /**
   * A server still running on this data directory from an earlier platform process (which
   * ended without stopping it) is stopped, so that this process runs and watches its own.
   */
  private async stopLeftover(): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 0 || !processServes(pid, this.dataDir)) return;
    this.options.log.info({ site: this.site, serverPid: pid }, 'stopping a PostgreSQL server left running by an earlier platform process');
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      return;
    }
    try {
      await pollUntil(() => !processServes(pid, this.dataDir), `the leftover server ${pid} to stop`, 20_000);
    } catch {
      process.kill(pid, 'SIGKILL');
    }
  }
}
