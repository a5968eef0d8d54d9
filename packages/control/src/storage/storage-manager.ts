import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CreateStorageRequest, StorageBody, StorageCredentialsBody, StorageDetailBody, StorageKindName, StorageStatus } from '@squadron/client';
import { legacyMoves, moveNamespaces, type KvEndpoints, type Provisioner, type ProvisionContext, type StorageSpec } from '@squadron/storage';
import type { Db, Queryable } from '../state/db.ts';
import { actorOf, mustOwn, type Principal } from '../auth/principal.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Sites } from '../sites.ts';
import { ConflictError, NotFoundError } from '../control-errors.ts';
import { recordAudit } from '../catalog/audit.ts';
import { StorageUnavailableError, asApiError } from './storage-errors.ts';

interface ResourceRow {
  name: string;
  kind: StorageKindName;
  service: string;
  squad: string;
  sites: string;
  primary_site: string;
  sync_replication: number;
  status: StorageStatus;
  error: string | null;
  state: string | null;
  created_at: number;
  created_by: string;
  /** kv: 1, keys under the old namespaces (which could collide); KV_LAYOUT, under svc.NAME and app.NAME. */
  kv_layout: number;
}

/** The kv namespace layout of this version (state/schema.ts, migration 8). */
const KV_LAYOUT = 2;

/** The provisioners this control plane has, by kind; a kind it lacks is refused with what to do. */
export type ProvisionerSet = Partial<Record<StorageKindName, Provisioner>>;

/** What a provisioner calls when a resource changed without being asked (an automatic failover). */
export type StateChanged = (name: string, state: unknown) => void;

const bodyOf = (r: ResourceRow): StorageBody => ({
  name: r.name, kind: r.kind, service: r.service, squad: r.squad, sites: JSON.parse(r.sites) as string[], primary: r.primary_site,
  sync: r.sync_replication === 1, status: r.status, error: r.error, createdAt: Number(r.created_at), createdBy: r.created_by,
});

const specOf = (r: ResourceRow): StorageSpec => ({
  name: r.name, kind: r.kind, service: r.service, squad: r.squad, sites: JSON.parse(r.sites) as string[], primary: r.primary_site, sync: r.sync_replication === 1,
});

/**
 * Storage resources: what squads asked for, kept in the state store with what each provisioner
 * returned, and run by the provisioners in `<dir>/<resource>/`. Creating and destroying take
 * seconds (servers start, data is copied between sites), so they run in the background and the
 * resource's status says where they are; only the owner squad (or the admin) changes a
 * resource or reads its credentials.
 */
export class StorageManager {
  private readonly busy = new Map<string, Promise<void>>();

  private readonly provisioners: ProvisionerSet;

  constructor(
    private readonly db: Db,
    private readonly catalog: Catalog,
    private readonly sites: Sites,
    provisioners: (changed: StateChanged) => ProvisionerSet,
    private readonly dir: string | null,
    private readonly log: Logger,
  ) {
    // Recording a change the provisioner made must not mark the resource failed if it cannot be recorded.
    this.provisioners = provisioners((name, state) => this.run(name, () => this.changed(name, state), false));
  }

  /** Keep what a provisioner changed on its own (a failover after the primary went silent), and audit it. */
  private async changed(name: string, state: unknown): Promise<void> {
    const row = await this.row(this.db, name);
    const primary = this.provisioners[row.kind]?.credentials(specOf(row), state).primary;
    await this.db.tx(async (q) => {
      await q.query('UPDATE storage_resources SET state = $1, primary_site = $2 WHERE name = $3', [JSON.stringify(state), typeof primary === 'string' ? primary : row.primary_site, name]);
      await recordAudit(q, 'platform', 'storage.failover', `storage:${name}`, { automatic: true, ...(typeof primary === 'string' ? { primary } : {}) });
    });
    this.log.warn({ storage: name, primary }, 'storage changed on its own (automatic failover): recorded');
  }

  async create(by: Principal, req: CreateStorageRequest): Promise<StorageBody> {
    const provisioner = this.provisioner(req.kind);
    const primary = req.primary ?? req.sites[0]!;
    for (const site of req.sites) if (!this.sites.get(site)) throw new NotFoundError('site', site, `the platform's sites are ${this.sites.names.join(', ')}`);
    if (!req.sites.includes(primary)) throw new ConflictError(`the primary's site '${primary}' is not one of the resource's sites (${req.sites.join(', ')})`);
    // In the platform's failover order, whatever order they were given in.
    const sites = this.sites.names.filter((s) => req.sites.includes(s));
    const row = await this.db.tx(async (q) => {
      const service = await this.catalog.owned(q, by, req.service);
      if ((await q.query('SELECT 1 FROM storage_resources WHERE name = $1', [req.name])).length > 0) throw new ConflictError(`storage '${req.name}' exists already`);
      await q.query(
        'INSERT INTO storage_resources (name, kind, service, squad, sites, primary_site, sync_replication, status, created_at, created_by, kv_layout) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
        [req.name, req.kind, req.service, service.squad, JSON.stringify(sites), primary, req.sync ? 1 : 0, 'creating', Date.now(), actorOf(by), KV_LAYOUT],
      );
      await recordAudit(q, actorOf(by), 'storage.create', `storage:${req.name}`, { kind: req.kind, service: req.service, sites, primary, sync: req.sync === true });
      return this.row(q, req.name);
    });
    this.run(row.name, async () => {
      const state = await provisioner.create(specOf(row), this.context(row.name));
      await this.db.query('UPDATE storage_resources SET status = $1, state = $2, error = NULL WHERE name = $3', ['ready', JSON.stringify(state), row.name]);
      this.log.info({ storage: row.name, kind: row.kind }, 'storage ready');
    });
    return bodyOf(row);
  }

  async list(): Promise<StorageBody[]> {
    return (await this.db.query<ResourceRow>('SELECT * FROM storage_resources ORDER BY name')).map(bodyOf);
  }

  async show(name: string): Promise<StorageDetailBody> {
    const row = await this.row(this.db, name);
    const provisioner = this.provisioners[row.kind];
    let description: StorageDetailBody['description'] = null;
    if (provisioner && row.status === 'ready' && row.state) {
      description = await provisioner.describe(specOf(row), JSON.parse(row.state), this.context(row.name)).catch((err: unknown) => ({
        sites: [], facts: { error: (err as Error).message },
      }));
    }
    return { ...bodyOf(row), description };
  }

  async credentials(by: Principal, name: string): Promise<StorageCredentialsBody> {
    const row = await this.row(this.db, name);
    mustOwn(by, row.squad, `storage '${name}'`);
    return { name, kind: row.kind, credentials: this.credentialsOf(row) };
  }

  /** Every ready resource a service owns, with its credentials: what its instances get. */
  async forService(by: Principal, service: string): Promise<StorageCredentialsBody[]> {
    await this.catalog.owned(this.db, by, service);
    const rows = await this.db.query<ResourceRow>('SELECT * FROM storage_resources WHERE service = $1 AND status = $2 ORDER BY name', [service, 'ready']);
    return rows.map((r) => ({ name: r.name, kind: r.kind, credentials: this.credentialsOf(r) }));
  }

  /** A ready resource of `kind`: its owner squad and credentials (what apps are served through). */
  async ready(name: string, kind: StorageKindName): Promise<{ squad: string; sites: string[]; credentials: Record<string, unknown> }> {
    const row = await this.row(this.db, name);
    if (row.kind !== kind) throw new ConflictError(`storage '${name}' is ${row.kind}, not ${kind}`);
    if (row.status !== 'ready') throw new ConflictError(`storage '${name}' is ${row.status}; wait until it is ready (squadron storage show ${name})`);
    return { squad: row.squad, sites: JSON.parse(row.sites) as string[], credentials: this.credentialsOf(row) };
  }

  async failover(by: Principal, name: string, toSite?: string): Promise<StorageBody> {
    const row = await this.row(this.db, name);
    mustOwn(by, row.squad, `storage '${name}'`);
    if (row.status !== 'ready' || !row.state) throw new ConflictError(`storage '${name}' is ${row.status}; fail over once it is ready`);
    const started = Date.now();
    const state = await this.provisioner(row.kind).failover(specOf(row), JSON.parse(row.state), this.context(name), toSite).catch((err: unknown) => {
      throw asApiError(err);
    });
    // Where the primary is now, as the kind's credentials say (kinds without one keep the first site).
    const moved = this.provisioner(row.kind).credentials(specOf(row), state).primary;
    await this.db.tx(async (q) => {
      await q.query('UPDATE storage_resources SET state = $1, primary_site = $2 WHERE name = $3', [JSON.stringify(state), typeof moved === 'string' ? moved : row.primary_site, name]);
      await recordAudit(q, actorOf(by), 'storage.failover', `storage:${name}`, { ...(toSite ? { toSite } : {}), tookMs: Date.now() - started });
    });
    return bodyOf(await this.row(this.db, name));
  }

  async destroy(by: Principal, name: string): Promise<StorageBody> {
    const row = await this.db.tx(async (q) => {
      const r = await this.row(q, name);
      mustOwn(by, r.squad, `storage '${name}'`);
      await q.query('UPDATE storage_resources SET status = $1 WHERE name = $2', ['destroying', name]);
      await recordAudit(q, actorOf(by), 'storage.destroy', `storage:${name}`);
      return this.row(q, name);
    });
    this.run(name, async () => {
      const provisioner = this.provisioners[row.kind];
      if (provisioner && row.state) await provisioner.destroy(specOf(row), JSON.parse(row.state), this.context(name));
      if (this.dir) rmSync(join(this.dir, name), { recursive: true, force: true });
      await this.db.tx(async (q) => {
        // Its apps' keys go with it.
        await q.query('DELETE FROM apps WHERE storage = $1', [name]);
        await q.query('DELETE FROM storage_resources WHERE name = $1', [name]);
      });
      this.log.info({ storage: name }, 'storage destroyed');
    });
    return bodyOf(row);
  }

  /** Run every ready resource again (the platform restarted): its processes come back with its data. */
  async startAll(): Promise<void> {
    const rows = await this.db.query<ResourceRow>('SELECT * FROM storage_resources WHERE status = $1', ['ready']);
    for (const row of rows) {
      const provisioner = this.provisioners[row.kind];
      if (!provisioner || !row.state) continue;
      this.run(row.name, async () => {
        const state = await provisioner.start(specOf(row), JSON.parse(row.state!), this.context(row.name));
        await this.db.query('UPDATE storage_resources SET state = $1 WHERE name = $2', [JSON.stringify(state), row.name]);
        if (row.kind === 'kv' && Number(row.kv_layout) < KV_LAYOUT) await this.moveKvNamespaces(row, provisioner.credentials(specOf(row), state) as unknown as KvEndpoints);
      });
    }
    await Promise.all(this.busy.values());
  }

  /**
   * A kv store of the old layout moves its keys to the namespaces that cannot collide (service
   * `svc.NAME`, app `app.NAME`; docs/decisions/0011-kv-storage.md), once, and records it.
   */
  private async moveKvNamespaces(row: ResourceRow, credentials: KvEndpoints): Promise<void> {
    const apps = (await this.db.query<{ name: string }>('SELECT name FROM apps WHERE storage = $1 ORDER BY name', [row.name])).map((a) => a.name);
    const collided = apps.filter((app) => `app-${app}` === row.service);
    if (collided.length > 0) this.log.warn({ storage: row.name, service: row.service, apps: collided }, 'an app and the service shared one kv namespace: its keys stay the service\'s, and the app starts empty');
    const moved = await moveNamespaces(credentials, JSON.parse(row.sites)[0] as string, legacyMoves(row.service, apps));
    await this.db.tx(async (q) => {
      await q.query('UPDATE storage_resources SET kv_layout = $1 WHERE name = $2', [KV_LAYOUT, row.name]);
      await recordAudit(q, 'platform', 'storage.kv-namespaces', `storage:${row.name}`, { moved, layout: KV_LAYOUT, ...(collided.length > 0 ? { collided } : {}) });
    });
    this.log.info({ storage: row.name, moved }, 'kv keys moved to namespaces that cannot collide');
  }

  /** Stop what the provisioners run (shutdown); data stays. Waits for work under way first. */
  async stopAll(): Promise<void> {
    await Promise.allSettled(this.busy.values());
    const rows = await this.db.query<ResourceRow>('SELECT * FROM storage_resources WHERE status = $1', ['ready']);
    await Promise.allSettled(rows.map(async (row) => {
      const provisioner = this.provisioners[row.kind];
      if (provisioner && row.state) await provisioner.stop(specOf(row), JSON.parse(row.state), this.context(row.name));
    }));
  }

  private credentialsOf(row: ResourceRow): Record<string, unknown> {
    const provisioner = this.provisioners[row.kind];
    if (!provisioner || !row.state) return {};
    return provisioner.credentials(specOf(row), JSON.parse(row.state));
  }

  /** Background work on one resource, one piece at a time; a failure is kept as the resource's error (unless `marks` is false). */
  private run(name: string, work: () => Promise<void>, marks = true): void {
    const previous = this.busy.get(name) ?? Promise.resolve();
    const next = previous.then(work).catch(async (err: unknown) => {
      const message = (err as Error).message;
      this.log.error({ storage: name, err: message }, 'storage work failed');
      if (marks) await this.db.query('UPDATE storage_resources SET status = $1, error = $2 WHERE name = $3', ['failed', message, name]).catch(() => {});
    }).finally(() => {
      if (this.busy.get(name) === next) this.busy.delete(name);
    });
    this.busy.set(name, next);
  }

  private provisioner(kind: StorageKindName): Provisioner {
    if (this.dir === null) throw new StorageUnavailableError('this control plane keeps no storage: start it with a data directory (squadron up, or squadron control --data-dir)');
    const p = this.provisioners[kind];
    if (!p) {
      const how = kind === 'cassandra' ? ': point the platform at a cluster (CASSANDRA_CONTACT_POINTS, CASSANDRA_USER, CASSANDRA_PASSWORD when it starts)' : ': its provisioner is not configured';
      throw new StorageUnavailableError(`this platform provides no '${kind}' storage${how}`);
    }
    return p;
  }

  private context(name: string): ProvisionContext {
    const dir = join(this.dir ?? '.', name);
    mkdirSync(dir, { recursive: true });
    return { dir, log: this.log.child({ storage: name }) };
  }

  private async row(q: Queryable, name: string): Promise<ResourceRow> {
    const rows = await q.query<ResourceRow>('SELECT * FROM storage_resources WHERE name = $1', [name]);
    if (!rows[0]) throw new NotFoundError('storage', name, "'squadron storage list' shows them");
    return rows[0];
  }
}
