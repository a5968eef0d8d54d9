import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  StorageError, type ProvisionContext, type Provisioner, type SiteState, type StorageDescription, type StorageSpec,
} from '../provisioner.ts';
import { callKv } from './http-call.ts';
import { freePorts, portFree } from './ports.ts';
import { DEFAULT_QUOTA, type KvQuota } from './quotas.ts';
import type { PeerStatus } from './replication.ts';
import type { KvSiteSettings } from './settings.ts';
import { SiteProcess, type RestartPolicy } from './site-process.ts';

/** What the control plane keeps for a kv resource: its secret and each site's port. */
export interface KvState {
  secret: string;
  /** Where the servers listen. */
  host: string;
  sites: Array<{ site: string; port: number }>;
  /** The quota of namespaces that have none of their own. */
  defaultQuota: KvQuota;
}

/** What a client needs: each site's server, and the resource's secret (a type, so it is a plain record). */
export type KvCredentials = {
  kind: 'kv';
  endpoints: Record<string, string>;
  secret: string;
};

export interface KvProvisionerOptions {
  /** Where the servers listen (default 127.0.0.1). */
  host?: string;
  defaultQuota?: KvQuota;
  /** How often each site pulls each peer besides wake-ups (default 150 ms). */
  pollMs?: number;
  /** How long tombstones and unpulled changes are kept (default a day). */
  retentionMs?: number;
  readyTimeoutMs?: number;
  restart?: RestartPolicy;
}

interface Running {
  processes: SiteProcess[];
  state: KvState;
}

const SITE = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * The `kv` kind: one kv server process per site of the resource, each with its own SQLite file
 * under `ctx.dir/SITE/`, pulling the others (see docs/decisions/0011-kv-storage.md). Every site
 * takes writes, so there is no primary and no failover. The servers run as children of the
 * process that holds this provisioner, supervised and restarted if they die.
 *
 * @example
 * const kv = new KvProvisioner();
 * const state = await kv.create(spec, { dir: '.squadron/storage/sessions', log });
 * const client = new KvClient({ credentials: kv.credentials(spec, state), namespace: 'app-1', site: 'sto' });
 */
export class KvProvisioner implements Provisioner<KvState> {
  readonly kind = 'kv' as const;
  private readonly host: string;
  private readonly running = new Map<string, Running>();

  constructor(private readonly options: KvProvisionerOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
  }

  async create(spec: StorageSpec, ctx: ProvisionContext): Promise<KvState> {
    checkSpec(spec);
    // Asked again for a resource it runs (the caller lost the answer): the same state.
    const running = this.running.get(resolve(ctx.dir));
    if (running) return running.state;
    const ports = await freePorts(spec.sites.length, this.host);
    const state: KvState = {
      secret: randomBytes(24).toString('base64url'),
      host: this.host,
      sites: spec.sites.map((site, i) => ({ site, port: ports[i]! })),
      defaultQuota: this.options.defaultQuota ?? DEFAULT_QUOTA,
    };
    await this.launch(spec, state, ctx);
    ctx.log.info({ resource: spec.name, sites: state.sites }, 'kv resource created');
    return state;
  }

  async start(spec: StorageSpec, state: KvState, ctx: ProvisionContext): Promise<KvState> {
    checkSpec(spec);
    const running = this.running.get(resolve(ctx.dir));
    if (running) return running.state;
    // A port taken while the resource was stopped is replaced: the new state carries it.
    const next: KvState = { ...state, sites: [] };
    for (const s of state.sites) {
      next.sites.push({ site: s.site, port: (await portFree(s.port, state.host)) ? s.port : (await freePorts(1, state.host))[0]! });
    }
    await this.launch(spec, next, ctx);
    return next;
  }

  async stop(_spec: StorageSpec, _state: KvState, ctx: ProvisionContext): Promise<void> {
    const key = resolve(ctx.dir);
    const running = this.running.get(key);
    if (!running) return;
    this.running.delete(key);
    await Promise.all(running.processes.map((p) => p.stop()));
  }

  async describe(_spec: StorageSpec, state: KvState, ctx: ProvisionContext): Promise<StorageDescription> {
    const running = this.running.get(resolve(ctx.dir));
    const sites = await Promise.all(state.sites.map(async (s): Promise<SiteState & { restarts: number }> => {
      const endpoint = `${state.host}:${s.port}`;
      const restarts = running?.processes.find((p) => p.site === s.site)?.restarts ?? 0;
      try {
        const stats = await callKv<{ keys: number; bytes: number; peers: PeerStatus[] }>(`http://${endpoint}`, { method: 'GET', path: '/stats', secret: state.secret, timeoutMs: 1000 });
        const lags = stats.peers.map((p) => p.lagMs);
        const lag = lags.length === 0 ? 0 : lags.some((l) => l === null) ? undefined : Math.max(...(lags as number[]));
        const behind = stats.peers.filter((p) => !p.reachable).map((p) => p.site);
        return {
          site: s.site, role: 'replica', endpoint, up: true, restarts,
          ...(lag !== undefined ? { lag } : {}),
          detail: `${stats.keys} keys, ${stats.bytes} bytes${behind.length ? `; cannot reach ${behind.join(', ')}` : ''}`,
        };
      } catch (err) {
        return { site: s.site, role: 'down', endpoint, up: false, restarts, detail: (err as Error).message };
      }
    }));
    return {
      sites: sites.map(({ restarts: _r, ...site }) => site),
      facts: {
        writes: 'every site takes writes; replication is asynchronous (lag in ms)',
        conflictRule: 'last writer wins by hybrid-logical-clock timestamp, ties to the site whose name sorts last',
        restarts: Object.fromEntries(sites.map((s) => [s.site, s.restarts])),
        defaultQuota: state.defaultQuota,
      },
    };
  }

  credentials(_spec: StorageSpec, state: KvState): KvCredentials {
    return {
      kind: 'kv',
      endpoints: Object.fromEntries(state.sites.map((s) => [s.site, `http://${state.host}:${s.port}`])),
      secret: state.secret,
    };
  }

  async failover(spec: StorageSpec, _state: KvState, _ctx: ProvisionContext, _toSite?: string): Promise<KvState> {
    throw new StorageError(
      'NOT_SUPPORTED',
      `kv resource '${spec.name}' has no primary to move: every site takes writes. To take a site out, stop sending to it; clients go to the next site by themselves`,
    );
  }

  async destroy(spec: StorageSpec, state: KvState, ctx: ProvisionContext): Promise<void> {
    await this.stop(spec, state, ctx);
    // The resource's own folder: its sites' files and logs, nothing else.
    rmSync(ctx.dir, { recursive: true, force: true });
    ctx.log.info({ resource: spec.name }, 'kv resource destroyed');
  }

  /** Start every site's server, peers wired to each other; undone whole if one cannot start. */
  private async launch(spec: StorageSpec, state: KvState, ctx: ProvisionContext): Promise<void> {
    const urls = state.sites.map((s) => ({ site: s.site, url: `http://${state.host}:${s.port}` }));
    const processes = state.sites.map((s) => {
      const dir = join(ctx.dir, s.site);
      mkdirSync(dir, { recursive: true });
      const settings: KvSiteSettings = {
        dir, site: s.site, host: state.host, port: s.port, secret: state.secret,
        peers: urls.filter((u) => u.site !== s.site),
        defaultQuota: state.defaultQuota,
        pollMs: this.options.pollMs ?? 150,
        retentionMs: this.options.retentionMs ?? 24 * 3600 * 1000,
      };
      return new SiteProcess({
        settings, logFile: join(dir, 'server.log'), log: ctx.log,
        ...(this.options.readyTimeoutMs !== undefined ? { readyTimeoutMs: this.options.readyTimeoutMs } : {}),
        ...(this.options.restart ? { restart: this.options.restart } : {}),
      });
    });
    const started = await Promise.allSettled(processes.map((p) => p.start()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(processes.map((p) => p.stop()));
      const reason = failed.reason as Error;
      throw new StorageError('STORAGE_UNAVAILABLE', `kv resource '${spec.name}' could not start: ${reason.message}`, { cause: reason });
    }
    this.running.set(resolve(ctx.dir), { processes, state });
  }
}

function checkSpec(spec: StorageSpec): void {
  const problems: string[] = [];
  if (spec.kind !== 'kv') problems.push(`kind is '${spec.kind}', not 'kv'`);
  if (spec.sites.length === 0) problems.push('it names no site');
  const bad = spec.sites.filter((s) => !SITE.test(s));
  if (bad.length > 0) problems.push(`site names ${bad.map((s) => `'${s}'`).join(', ')} are not lower-case letters, digits and dashes`);
  if (new Set(spec.sites).size !== spec.sites.length) problems.push('it names a site twice');
  if (problems.length > 0) throw new StorageError('BAD_REQUEST', `kv resource '${spec.name}': ${problems.join('; ')}`);
}
