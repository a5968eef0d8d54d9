import { mkdirSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { StorageError, type ProvisionContext, type Provisioner, type SiteState, type StorageDescription, type StorageSpec } from '../provisioner.ts';
import { lookupOsUser, type OsUser } from '../postgres/run-as.ts';
import { findMemcached, memcachedUser } from './binary.ts';
import { memcachedVersion, type SaslLogin } from './binary-protocol.ts';
import { endLeftover, readStateFile, removeStateFile, serverFiles, writeStateFile, type MemcachedServerState, type MemcachedState } from './leftovers.ts';
import { findSaslpasswd2, newSecret, removeSaslFiles, saslUsername, writeSaslFiles } from './sasl-files.ts';
import { DEFAULT_RESTART, ExitGuard, MemcachedServer, type RestartPolicy } from './server-process.ts';
import { freeLocalPort } from './addresses.ts';

/** The platform's settings for memcached resources; every one has a default. */
export interface MemcachedOptions {
  /** The memcached binary; default: found as `findMemcached` says. */
  binary?: string;
  /** Servers in each site of a resource. Default 1. */
  perSite?: number;
  /** Item memory of each server (-m), in MiB. Default 64. */
  memoryMb?: number;
  /** The user servers run as when the platform is root. Default `memcache`, else `nobody`. */
  user?: string;
  /** Cyrus SASL's saslpasswd2, which writes each resource's password database; default: found as `findSaslpasswd2` says. */
  saslpasswd2?: string;
  /** Where the servers listen. Default 127.0.0.1. */
  host?: string;
  restart?: Partial<RestartPolicy>;
  /** How long a server may take to answer after it is started. Default 5 s. */
  startTimeoutMs?: number;
  /** How long `describe` waits for each server's `version`. Default 500 ms. */
  probeTimeoutMs?: number;
}

/**
 * Credentials of a memcached resource: its servers by site, in the resource's site order, and
 * the login every one of them requires (SASL PLAIN).
 */
export type MemcachedCredentials = {
  servers: Record<string, string[]>;
  username: string;
  password: string;
};

/** What the servers of one start share: the binary, the resource's login and its SASL config. */
interface Launch {
  binary: string;
  login: SaslLogin;
  saslConfDir: string;
}

interface Running {
  state: MemcachedState;
  servers: MemcachedServer[];
  log: Logger;
}

/** Tries at a fresh port when the one picked was taken before memcached could bind it. */
const PORT_TRIES = 5;

/**
 * The `memcached` kind: real memcached processes from the machine's binary, `perSite` in each
 * site of the resource, on free loopback ports, kept running by this provisioner (restarted with
 * a doubling delay when one dies). A cache keeps nothing across a stop: `start` brings the servers
 * back empty, on the ports the clients hold.
 */
export class MemcachedProvisioner implements Provisioner<MemcachedState> {
  readonly kind = 'memcached' as const;
  private readonly running = new Map<string, Running>();
  /** One operation at a time per resource folder, so repeated calls see each other's result. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly guard = new ExitGuard();

  constructor(private readonly options: MemcachedOptions = {}) {
    const perSite = options.perSite ?? 1;
    if (!Number.isInteger(perSite) || perSite < 1) throw new StorageError('BAD_REQUEST', `memcached perSite must be a whole number of at least 1, not ${perSite}`);
    const memoryMb = options.memoryMb ?? 64;
    if (!Number.isInteger(memoryMb) || memoryMb < 1) throw new StorageError('BAD_REQUEST', `memcached memoryMb must be a whole number of MiB, at least 1, not ${memoryMb}`);
  }

  create(spec: StorageSpec, ctx: ProvisionContext): Promise<MemcachedState> {
    return this.serial(ctx.dir, async () => {
      if (spec.sites.length === 0) throw new StorageError('BAD_REQUEST', `memcached resource ${spec.name} needs at least one site`);
      const running = this.running.get(ctx.dir);
      if (running) return running.state;
      // A create repeated after a crash: what the first one started is in the folder.
      const kept = readStateFile(ctx.dir);
      if (kept) return this.startFrom(spec, kept, ctx);
      mkdirSync(ctx.dir, { recursive: true });
      const secret = newSecret();
      const memoryMb = this.options.memoryMb ?? 64;
      const perSite = this.options.perSite ?? 1;
      const servers: MemcachedServer[] = [];
      try {
        const launch = await this.prepare(spec, secret, ctx);
        for (const site of spec.sites) {
          for (let n = 0; n < perSite; n++) servers.push(await this.startServer(launch, site, n, null, memoryMb, ctx));
        }
      } catch (err) {
        await Promise.all(servers.map((s) => s.stop()));
        removeStateFile(ctx.dir);
        removeSaslFiles(ctx.dir);
        throw err;
      }
      const state: MemcachedState = { memoryMb, secret, servers: servers.map(stateOf) };
      writeStateFile(ctx.dir, state);
      this.running.set(ctx.dir, { state, servers, log: ctx.log });
      ctx.log.info({ resource: spec.name, servers: state.servers.length }, 'memcached resource created');
      return state;
    });
  }

  start(spec: StorageSpec, state: MemcachedState, ctx: ProvisionContext): Promise<MemcachedState> {
    return this.serial(ctx.dir, async () => {
      const running = this.running.get(ctx.dir);
      if (running) return running.state;
      const next = await this.startFrom(spec, state, ctx);
      ctx.log.info({ resource: spec.name, servers: next.servers.length }, 'memcached resource started');
      return next;
    });
  }

  stop(spec: StorageSpec, state: MemcachedState, ctx: ProvisionContext): Promise<void> {
    return this.serial(ctx.dir, async () => {
      await this.stopAll(state, ctx);
      ctx.log.info({ resource: spec.name }, 'memcached resource stopped');
    });
  }

  async describe(spec: StorageSpec, state: MemcachedState, ctx: ProvisionContext): Promise<StorageDescription> {
    const timeoutMs = this.options.probeTimeoutMs ?? 500;
    const supervised = this.running.get(ctx.dir)?.servers ?? [];
    const login = { username: saslUsername(spec.name), password: state.secret ?? '' };
    const servers = await Promise.all(state.servers.map(async (s) => {
      const address = `${s.host}:${s.port}`;
      // Up means it serves the resource's own login, as its clients will use it.
      const version = await memcachedVersion(address, login, timeoutMs).catch(() => null);
      const proc = supervised.find((p) => p.address === address);
      return {
        site: s.site, address, up: version !== null, version,
        ...(proc ? { status: proc.status, pid: proc.pid, restarts: proc.restarts, restartInMs: proc.restartInMs } : {}),
      };
    }));
    const sites: SiteState[] = [...new Set(state.servers.map((s) => s.site))].map((site) => {
      const mine = servers.filter((s) => s.site === site);
      const up = mine.filter((s) => s.up).length;
      return {
        site,
        role: up === mine.length ? 'replica' : 'down',
        endpoint: mine.map((s) => s.address).join(','),
        up: up === mine.length,
        detail: `${up}/${mine.length} servers answer`,
      };
    });
    return { sites, facts: { memoryMb: state.memoryMb, version: servers.find((s) => s.version)?.version ?? null, supervised: supervised.length > 0, servers } };
  }

  credentials(spec: StorageSpec, state: MemcachedState): MemcachedCredentials {
    const servers: Record<string, string[]> = {};
    for (const s of state.servers) (servers[s.site] ??= []).push(`${s.host}:${s.port}`);
    // A state from before servers required a login has no secret until its next start.
    return { servers, username: saslUsername(spec.name), password: state.secret ?? '' };
  }

  failover(spec: StorageSpec, _state?: MemcachedState, _ctx?: ProvisionContext, _toSite?: string): Promise<MemcachedState> {
    return Promise.reject(new StorageError(
      'NOT_SUPPORTED',
      `memcached resource ${spec.name} has no primary to move: each site has its own servers and clients fall back to another site by themselves. ` +
        'Use failover with a postgres resource; to empty a cache, stop and start it.',
    ));
  }

  destroy(spec: StorageSpec, state: MemcachedState, ctx: ProvisionContext): Promise<void> {
    return this.serial(ctx.dir, async () => {
      await this.stopAll(state, ctx);
      rmSync(ctx.dir, { recursive: true, force: true });
      removeSaslFiles(ctx.dir);
      ctx.log.info({ resource: spec.name }, 'memcached resource destroyed');
    });
  }

  /**
   * Run the kept servers again, first ending any a killed platform left running. A resource
   * made before servers required a login gets its secret now, in the state it returns.
   */
  private async startFrom(spec: StorageSpec, state: MemcachedState, ctx: ProvisionContext): Promise<MemcachedState> {
    mkdirSync(ctx.dir, { recursive: true });
    const secret = state.secret ?? newSecret();
    if (!state.secret) ctx.log.warn({ resource: spec.name }, 'memcached resource made before its servers required a login: it gets a secret now, and its clients new credentials');
    const counts = new Map<string, number>();
    const numbered = state.servers.map((s) => {
      const n = counts.get(s.site) ?? 0;
      counts.set(s.site, n + 1);
      return { ...s, n };
    });
    for (const s of numbered) {
      if (await endLeftover(serverFiles(ctx.dir, s.site, s.n).pidFile, s.port)) ctx.log.warn({ port: s.port }, 'ended a memcached left running by a previous platform');
    }
    // Written once no server of the resource runs: none reads them while they change.
    const launch = await this.prepare(spec, secret, ctx);
    const servers: MemcachedServer[] = [];
    try {
      for (const s of numbered) servers.push(await this.startServer(launch, s.site, s.n, s, state.memoryMb, ctx));
    } catch (err) {
      await Promise.all(servers.map((s) => s.stop()));
      throw err;
    }
    const next: MemcachedState = { memoryMb: state.memoryMb, secret, servers: servers.map(stateOf) };
    writeStateFile(ctx.dir, next);
    this.running.set(ctx.dir, { state: next, servers, log: ctx.log });
    return next;
  }

  /** The binaries, and the resource's SASL files written afresh for its login. */
  private async prepare(spec: StorageSpec, secret: string, ctx: ProvisionContext): Promise<Launch> {
    const binary = findMemcached(this.options.binary);
    const saslpasswd2 = findSaslpasswd2(this.options.saslpasswd2);
    const saslConfDir = await writeSaslFiles(ctx.dir, spec.name, secret, this.serverUser(), saslpasswd2);
    return { binary, login: { username: saslUsername(spec.name), password: secret }, saslConfDir };
  }

  /** The OS user the servers become (`-u`), whose files the SASL files must be; null when they run as this process's user. */
  private serverUser(): OsUser | null {
    const name = memcachedUser(this.options.user);
    if (!name || process.getuid?.() !== 0) return null;
    const user = lookupOsUser(name);
    if (!user) throw new StorageError('STORAGE_UNAVAILABLE', `memcached servers are to run as '${name}', which this machine does not know: create it (useradd --system ${name}) or name another user in the platform config`);
    return user;
  }

  /** One server on `kept`'s port, or on a free one (a new one too when `kept`'s is taken by another process). */
  private async startServer(launch: Launch, site: string, n: number, kept: MemcachedServerState | null, memoryMb: number, ctx: ProvisionContext): Promise<MemcachedServer> {
    const host = kept?.host ?? this.options.host ?? '127.0.0.1';
    let port = kept?.port ?? (await freeLocalPort(host));
    for (let attempt = 1; ; attempt++) {
      const server = new MemcachedServer({
        site, binary: launch.binary, host, port, memoryMb, user: memcachedUser(this.options.user),
        login: launch.login, saslConfDir: launch.saslConfDir,
        ...serverFiles(ctx.dir, site, n),
        restart: { ...DEFAULT_RESTART, ...this.options.restart },
        startTimeoutMs: this.options.startTimeoutMs ?? 5_000,
        guard: this.guard,
        log: ctx.log.child({ memcached: `${site}#${n}` }),
      });
      try {
        await server.start();
        return server;
      } catch (err) {
        if (!(err as { portInUse?: boolean }).portInUse || attempt >= PORT_TRIES) throw err;
        if (kept) ctx.log.warn({ port }, 'the port of a memcached server is taken; it moves to another, and its clients get new credentials');
        port = await freeLocalPort(host);
      }
    }
  }

  private async stopAll(state: MemcachedState, ctx: ProvisionContext): Promise<void> {
    const running = this.running.get(ctx.dir);
    this.running.delete(ctx.dir);
    if (running) await Promise.all(running.servers.map((s) => s.stop()));
    // Servers a previous platform started, if this one never ran them.
    const counts = new Map<string, number>();
    for (const s of state.servers) {
      const n = counts.get(s.site) ?? 0;
      counts.set(s.site, n + 1);
      await endLeftover(serverFiles(ctx.dir, s.site, n).pidFile, s.port);
    }
  }

  private serial<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(dir) ?? Promise.resolve();
    const result = previous.then(fn, fn);
    const settled = result.then(() => undefined, () => undefined);
    this.queues.set(dir, settled);
    void settled.then(() => {
      if (this.queues.get(dir) === settled) this.queues.delete(dir);
    });
    return result;
  }
}

const stateOf = (s: MemcachedServer): MemcachedServerState => ({ site: s.options.site, host: s.options.host, port: s.options.port });
