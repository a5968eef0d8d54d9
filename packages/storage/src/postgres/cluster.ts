import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { StorageError, type SiteState, type StorageDescription, type StorageSpec } from '../provisioner.ts';
import type { PostgresBinaries } from './binaries.ts';
import { createDatabaseAndRole, generatePassword } from './database-role.ts';
import { pollUntil } from './poll.ts';
import { freeLoopbackPort, keepOrReplacePort } from './ports.ts';
import {
  copyFrom, ensureReplicationRole, ensureSlot, primarySettings, rebuildAsStandby, standbySettings, standbyStatus, type RebuildTools,
} from './replication.ts';
import type { ServerUser } from './run-as.ts';
import { PostgresServer } from './server.ts';
import type { EmbeddedPostgresState } from './state.ts';

export interface ClusterDeps {
  binaries: PostgresBinaries;
  user: ServerUser | null;
  log: Logger;
  /** The servers' folder (see serverFolder); each site's server lives in `<dir>/<site>`. */
  dir: string;
  /** Whether that folder was made for the servers alone (in the server user's home), to be removed with them. */
  ownDir: boolean;
  /** Told the new state after a change the platform did not ask for (a failover). */
  onChange: (state: EmbeddedPostgresState) => void;
}

/**
 * One postgres resource while this process runs it: a server per site, the primary among them.
 * Changes of role (create, start, failover, rebuilds, stop) run one at a time, in `exclusive`.
 */
export class PostgresCluster {
  readonly servers = new Map<string, PostgresServer>();
  private tail: Promise<unknown> = Promise.resolve();
  /** When a site that failed to come back may be tried again (ms since epoch). */
  private retryAt = new Map<string, { at: number; delayMs: number }>();

  constructor(readonly spec: StorageSpec, public state: EmbeddedPostgresState, readonly deps: ClusterDeps) {
    for (const site of spec.sites) {
      const port = state.servers[site]?.port ?? 0;
      this.servers.set(site, new PostgresServer({
        site, dir: join(deps.dir, site), port, binaries: deps.binaries, user: deps.user, adminPassword: state.adminPassword, log: deps.log,
      }));
    }
  }

  /** A new resource: the primary from initdb with the database and role, each standby from a base backup of it. */
  static async create(spec: StorageSpec, deps: ClusterDeps): Promise<PostgresCluster> {
    const servers: Record<string, { port: number }> = {};
    for (const site of spec.sites) servers[site] = { port: await freeLoopbackPort() };
    const state: EmbeddedPostgresState = {
      mode: 'embedded', database: '', user: '', password: generatePassword(), primary: spec.primary, sync: spec.sync, servers,
      adminPassword: generatePassword(), replicationPassword: generatePassword(), failovers: 0,
    };
    const cluster = new PostgresCluster(spec, state, deps);
    try {
      const primary = cluster.primaryServer();
      await primary.init();
      // Synchronous replication waits until the standbys exist: set up first, then switched on.
      primary.writeRoleSettings(primarySettings(false, []));
      await primary.start();
      await ensureReplicationRole(primary, state.replicationPassword);
      const db = await createDatabaseAndRole(primary.endpoint, spec, state.password);
      state.database = db.database;
      state.user = db.user;
      for (const site of cluster.standbySites()) {
        const standby = cluster.server(site);
        await copyFrom(standby, primary, cluster.rebuildTools());
        await standby.start();
      }
      await cluster.waitStreaming(30_000);
      if (spec.sync && cluster.standbySites().length) {
        primary.writeRoleSettings(primarySettings(true, cluster.standbySites()));
        await primary.query('SELECT pg_reload_conf()');
        await pollUntil(async () => (await standbyStatus(primary)).some((s) => s.syncState === 'quorum' || s.syncState === 'sync'),
          'a standby to become synchronous', 15_000);
      }
      deps.log.info({ resource: spec.name, primary: spec.primary, sites: spec.sites, sync: spec.sync }, 'postgres resource created');
      return cluster;
    } catch (err) {
      await cluster.destroy();
      throw asStorageError(err, `could not create postgres resource ${spec.name}`);
    }
  }

  primaryServer(): PostgresServer {
    return this.server(this.state.primary);
  }

  server(site: string): PostgresServer {
    const s = this.servers.get(site);
    if (!s) throw new StorageError('NOT_FOUND', `postgres resource ${this.spec.name} has no site ${site} (its sites: ${this.spec.sites.join(', ')})`);
    return s;
  }

  /** The sites other than the primary's, in the platform's failover order. */
  standbySites(): string[] {
    return this.spec.sites.filter((s) => s !== this.state.primary);
  }

  rebuildTools(): RebuildTools {
    return { binaries: this.deps.binaries, user: this.deps.user, replicationPassword: this.state.replicationPassword, log: this.deps.log };
  }

  /** Runs `work` after every change of role before it, and before any after it. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work);
    this.tail = run.catch(() => {});
    return run;
  }

  /** Tells the platform the state changed (it keeps the copy it is given). */
  changed(): void {
    this.deps.onChange(structuredClone(this.state));
  }

  /**
   * Runs the resource again from its folders (the platform restarted). The primary is the site
   * whose data is a primary's with the latest timeline, which is the kept one unless the platform
   * stopped between a promotion and keeping its state.
   */
  start(): Promise<void> {
    return this.exclusive(async () => {
      // What changes here (the primary, a port taken meanwhile) reaches the platform as start's result.
      this.state.primary = await this.primaryOnDisk();
      for (const [site, server] of this.servers) {
        if (server.running) continue;
        server.port = await keepOrReplacePort(server.port);
        this.state.servers[site] = { port: server.port };
      }
      const primary = this.primaryServer();
      primary.setStandby(false);
      primary.writeRoleSettings(primarySettings(this.state.sync, this.standbySites()));
      await primary.start();
      for (const site of this.standbySites()) await this.bringBackStandby(site);
    });
  }

  /** Stops every server, the primary first so its last WAL reaches the standbys. */
  stop(): Promise<void> {
    return this.exclusive(async () => {
      await this.primaryServer().stop();
      for (const site of this.standbySites()) await this.server(site).stop();
    });
  }

  /** Kills every server and deletes its data (the resource's own folder is the caller's). */
  async destroy(): Promise<void> {
    await this.exclusive(async () => {
      for (const server of this.servers.values()) {
        await server.reap();
        await server.stop(); // one left running by an earlier platform process
        rmSync(server.dir, { recursive: true, force: true });
      }
      if (this.deps.ownDir) rmSync(this.deps.dir, { recursive: true, force: true });
    });
  }

  /**
   * Brings back what is down: a standby (or an old primary) is restarted, rewound or copied
   * afresh as a standby of the primary; the primary itself is restarted only when it is down
   * and the caller found no standby to fail over to. A site that fails is tried again later,
   * waiting twice as long each time (up to 30 s).
   */
  heal(restartPrimary: boolean): Promise<void> {
    return this.exclusive(async () => {
      const primary = this.primaryServer();
      if (!primary.running) {
        if (!restartPrimary || !this.due(primary.site)) return;
        await this.attempt(primary.site, async () => {
          primary.setStandby(false);
          primary.writeRoleSettings(primarySettings(this.state.sync, this.standbySites()));
          await primary.start();
          this.deps.log.info({ resource: this.spec.name, site: primary.site }, 'primary restarted in place (no standby could take over)');
        });
        return;
      }
      for (const site of this.standbySites()) {
        if (this.server(site).running || !this.due(site)) continue;
        await this.attempt(site, () => this.bringBackStandby(site));
      }
    });
  }

  /**
   * A standby that is down starts again as it is when its data is a standby's; an old primary,
   * or a standby that cannot follow the primary's timeline, is rebuilt first (pg_rewind, else
   * pg_basebackup).
   */
  async bringBackStandby(site: string): Promise<void> {
    const primary = this.primaryServer();
    const server = this.server(site);
    await server.stop(); // a killed postmaster's backends, if any
    await ensureSlot(primary, site);
    let how = 'restarted';
    if (!server.hasData()) {
      await copyFrom(server, primary, this.rebuildTools());
      how = 'copied';
    } else if (!server.isStandbyOnDisk()) {
      how = await rebuildAsStandby(server, primary, this.rebuildTools());
    } else {
      server.writeRoleSettings(standbySettings(site, primary, this.state.replicationPassword));
    }
    try {
      await server.start();
      if (how === 'restarted') await this.waitStreaming(10_000, [site]);
    } catch (err) {
      if (how !== 'restarted') throw err;
      // It cannot follow: the WAL it needs is gone, or its timeline forked from the primary's.
      this.deps.log.warn({ site, err: (err as Error).message }, 'standby cannot follow the primary; copying it afresh');
      await server.stop();
      await copyFrom(server, primary, this.rebuildTools());
      how = 'copied';
      await server.start();
    }
    this.deps.log.info({ resource: this.spec.name, site, how, primary: primary.site }, 'standby back');
  }

  /** Resolves once each of `sites` (the standbys by default) streams from the primary. */
  async waitStreaming(timeoutMs: number, sites = this.standbySites()): Promise<void> {
    const primary = this.primaryServer();
    await pollUntil(async () => {
      const streaming = new Set((await standbyStatus(primary)).filter((s) => s.state === 'streaming').map((s) => s.site));
      return sites.every((s) => streaming.has(s));
    }, `the standbys of ${this.spec.name} (${sites.join(', ')}) to stream from ${primary.site}`, timeoutMs, 100);
  }

  /** Each site's role, whether it answers, and a standby's replay lag in bytes. */
  async describe(): Promise<StorageDescription> {
    const primary = this.primaryServer();
    const status = await standbyStatus(primary, 1_000).catch(() => []);
    const sites: SiteState[] = [];
    for (const site of this.spec.sites) {
      const server = this.server(site);
      const up = server.running && (await server.answers(1_000));
      const s: SiteState = { site, role: !up ? 'down' : site === primary.site ? 'primary' : 'standby', endpoint: `127.0.0.1:${server.port}`, up };
      const repl = status.find((r) => r.site === site);
      if (repl) {
        if (repl.lagBytes !== null) s.lag = repl.lagBytes;
        s.detail = `${repl.state}, ${repl.syncState}`;
      } else if (up && site !== primary.site) {
        s.detail = 'not streaming';
      }
      if (server.pid !== undefined) s.detail = `${s.detail ? `${s.detail}, ` : ''}pid ${server.pid}`;
      sites.push(s);
    }
    return {
      sites,
      facts: {
        mode: 'embedded', primary: primary.site, sync: this.state.sync, database: this.state.database,
        failovers: this.state.failovers, lastFailover: this.state.lastFailover ?? null,
      },
    };
  }

  private async primaryOnDisk(): Promise<string> {
    const candidates = this.spec.sites.filter((s) => this.server(s).hasData() && !this.server(s).isStandbyOnDisk());
    if (candidates.length <= 1) return candidates[0] ?? this.state.primary;
    let best = this.state.primary;
    let bestTimeline = -1;
    for (const site of candidates) {
      const timeline = await this.server(site).timeline().catch(() => -1);
      if (timeline > bestTimeline || (timeline === bestTimeline && site === this.state.primary)) {
        best = site;
        bestTimeline = timeline;
      }
    }
    return best;
  }

  private due(site: string): boolean {
    return (this.retryAt.get(site)?.at ?? 0) <= Date.now();
  }

  private async attempt(site: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
      this.retryAt.delete(site);
    } catch (err) {
      const delayMs = Math.min(30_000, (this.retryAt.get(site)?.delayMs ?? 500) * 2);
      this.retryAt.set(site, { at: Date.now() + delayMs, delayMs });
      this.deps.log.warn({ resource: this.spec.name, site, err: (err as Error).message, retryInMs: delayMs }, 'could not bring a site back');
    }
  }
}

/** `err` as a StorageError, its message prefixed with what was being done. */
export function asStorageError(err: unknown, doing: string): StorageError {
  if (err instanceof StorageError) return new StorageError(err.code, `${doing}: ${err.message}`, { cause: err });
  return new StorageError('STORAGE_UNAVAILABLE', `${doing}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
