import { MEMORY_CEILING_MB, type DeployRequest, type InstanceRecordBody, type ReleaseBody, type RollbackRequest, type ScaleRequest, type ServiceBody } from '@squadron/client';
import type { Db, Queryable } from '../state/db.ts';
import type { Sites } from '../sites.ts';
import { actorOf, type Principal } from '../auth/principal.ts';
import { recordAudit } from '../catalog/audit.ts';
import { findService, type Catalog } from '../catalog/catalog.ts';
import { ConflictError, InvalidInputError, NoCapacityError } from '../control-errors.ts';
import type { AgentRegistry } from './agent-registry.ts';
import type { Reconciler } from './reconciler.ts';
import { freeSlots } from './placement.ts';
import { releaseFolderProblems } from './release-folder.ts';
import { RELEASE_RETENTION, type ArtifactStore } from './artifacts.ts';
import { ArtifactError, buildArtifact } from '@squadron/artifact';

interface ReleaseRow {
  service: string;
  number: number;
  artifact: string | null;
  /** '' when the deployer named no folder. */
  path: string;
  desired: string;
  created_at: number;
  created_by: string;
  rollback_of: number | null;
  max_memory_mb: number;
}

const releaseBody = (r: ReleaseRow): ReleaseBody => ({
  service: r.service, number: r.number, artifact: r.artifact, path: r.path || null, desired: JSON.parse(r.desired) as Record<string, number>,
  createdAt: r.created_at, createdBy: r.created_by, rollbackOf: r.rollback_of, maxMemoryMb: Number(r.max_memory_mb),
});

/**
 * Releases and desired state. Each change (deploy, scale, rollback, undeploy) is one
 * transaction: the check that the sites have room, the new desired state, the first placements
 * and the audit entry land together, or nothing does.
 */
export class Deployments {
  constructor(
    private readonly db: Db,
    private readonly sites: Sites,
    private readonly catalog: Catalog,
    private readonly agents: AgentRegistry,
    private readonly reconciler: Reconciler,
    private readonly artifacts: ArtifactStore,
    /** Folders no release may hold or be inside (the platform's data directory). */
    private readonly privateDirs: readonly string[] = [],
  ) {}

  /**
   * A new release of an uploaded artifact (`artifact`), or of one built here from a folder of
   * this machine (`path` alone), at N instances per site.
   */
  async deploy(by: Principal, service: string, req: DeployRequest): Promise<ReleaseBody> {
    // Refused whole, before anything is written: every failing field named.
    const fields = this.siteProblems(req.sites, '/sites');
    if (req.artifact === undefined) {
      if (req.path === undefined) fields.push({ path: '/artifact', message: 'is required (the digest of an uploaded artifact), or /path: a service folder on the control plane\'s machine' });
      else fields.push(...releaseFolderProblems(req.path, '/path', this.privateDirs));
    }
    if (fields.length > 0) throw new InvalidInputError(fields);
    const digest = req.artifact ?? (await this.buildHere(by, service, req.path!));
    const desired = Object.fromEntries(req.sites.map((s) => [s, req.instances]));
    const maxMemoryMb = req.maxMemoryMb ?? MEMORY_CEILING_MB.default;
    return this.change(async (q) => {
      await this.catalog.owned(q, by, service);
      await this.artifacts.mustUse(q, by, digest);
      await this.checkRoom(q, service, desired);
      const release = await this.newRelease(q, by, service, digest, req.path ?? null, desired, null, maxMemoryMb);
      await q.query('UPDATE services SET release = $1, desired = $2, interface = NULL WHERE name = $3', [release.number, JSON.stringify(desired), service]);
      await recordAudit(q, actorOf(by), 'service.deploy', `service:${service}`, { release: release.number, artifact: digest, path: req.path ?? null, desired, maxMemoryMb });
      await this.artifacts.prune(q, service);
      return release;
    }, service);
  }

  /** Build a folder of this machine into an artifact, as its deployer's, confined to the folder and its npm packages. */
  private async buildHere(by: Principal, service: string, path: string): Promise<string> {
    // Only the owner may make the control plane read a folder for a service.
    await this.catalog.owned(this.db, by, service);
    try {
      const built = await buildArtifact(path, { confine: { privateDirs: this.privateDirs } });
      return (await this.artifacts.put(by, built.bytes, built.digest)).digest;
    } catch (err) {
      if (err instanceof ArtifactError) throw new InvalidInputError([{ path: '/path', message: err.message }]);
      throw err;
    }
  }

  /**
   * Releases from before artifacts named only a folder: each is built now from its folder, if it
   * still builds (its code may have changed since: the best there is). One that does not stays
   * without an artifact, and its instances cannot start; a deploy or a rollback replaces it.
   */
  async buildMissingArtifacts(log: (msg: string) => void): Promise<void> {
    const rows = await this.db.query<ReleaseRow>("SELECT * FROM releases WHERE artifact IS NULL AND path <> ''");
    for (const r of rows) {
      try {
        const built = await buildArtifact(r.path, { confine: { privateDirs: this.privateDirs } });
        const squad = await this.db.query<{ squad: string }>('SELECT squad FROM services WHERE name = $1', [r.service]);
        await this.artifacts.put({ kind: 'squad', name: squad[0]?.squad ?? 'admin' }, built.bytes, built.digest);
        await this.db.query('UPDATE releases SET artifact = $1 WHERE service = $2 AND number = $3', [built.digest, r.service, r.number]);
      } catch (err) {
        log(`release ${r.number} of ${r.service} has no artifact and its folder ${r.path} does not build (${(err as Error).message}); deploy it again`);
      }
    }
  }

  async scale(by: Principal, service: string, req: ScaleRequest): Promise<ServiceBody> {
    return this.change(async (q) => {
      const svc = await this.catalog.owned(q, by, service);
      if (svc.release === null) throw new ConflictError(`service '${service}' is not deployed; deploy it first (squadron deploy ${service} --path DIR --sites …)`);
      const desired = { ...svc.desired };
      if (req.site !== undefined) {
        this.checkSites([req.site], '/site');
        desired[req.site] = req.instances;
      } else {
        for (const site of Object.keys(desired)) desired[site] = req.instances;
      }
      await this.checkRoom(q, service, desired);
      await q.query('UPDATE services SET desired = $1 WHERE name = $2', [JSON.stringify(desired), service]);
      await recordAudit(q, actorOf(by), 'service.scale', `service:${service}`, { from: svc.desired, to: desired });
      return findService(q, service);
    }, service);
  }

  /** A new release with the code of an earlier one (default: the one before the current), at today's scale. */
  async rollback(by: Principal, service: string, req: RollbackRequest): Promise<ReleaseBody> {
    return this.change(async (q) => {
      const svc = await this.catalog.owned(q, by, service);
      if (svc.release === null) throw new ConflictError(`service '${service}' is not deployed; there is nothing to roll back`);
      const to = req.to ?? svc.release - 1;
      const [target] = await q.query<ReleaseRow>('SELECT * FROM releases WHERE service = $1 AND number = $2', [service, to]);
      if (!target || to === svc.release) {
        throw new ConflictError(to === svc.release ? `release ${to} is the current one`
          : `service '${service}' has no release ${to}; 'squadron releases ${service}' lists them (the newest ${RELEASE_RETENTION} are kept)`);
      }
      if (target.artifact === null) throw new ConflictError(`release ${to} of '${service}' has no artifact to run (it was made before releases had one, and its folder did not build); deploy instead`);
      await this.checkRoom(q, service, svc.desired);
      // The earlier code with the ceiling it ran under: a ceiling too low for it goes back too.
      const release = await this.newRelease(q, by, service, target.artifact, target.path || null, svc.desired, to, Number(target.max_memory_mb));
      await q.query('UPDATE services SET release = $1, interface = NULL WHERE name = $2', [release.number, service]);
      await recordAudit(q, actorOf(by), 'service.rollback', `service:${service}`, { from: svc.release, to, release: release.number, artifact: target.artifact });
      await this.artifacts.prune(q, service);
      return release;
    }, service);
  }

  async undeploy(by: Principal, service: string): Promise<ServiceBody> {
    return this.change(async (q) => {
      const svc = await this.catalog.owned(q, by, service);
      await q.query("UPDATE services SET release = NULL, desired = '{}' WHERE name = $1", [service]);
      await recordAudit(q, actorOf(by), 'service.undeploy', `service:${service}`, { release: svc.release });
      return findService(q, service);
    }, service);
  }

  async releases(service: string): Promise<ReleaseBody[]> {
    await findService(this.db, service);
    return (await this.db.query<ReleaseRow>('SELECT * FROM releases WHERE service = $1 ORDER BY number DESC', [service])).map(releaseBody);
  }

  /** Placements with what the agents last observed of them. */
  async instances(service: string): Promise<InstanceRecordBody[]> {
    await findService(this.db, service);
    const rows = await this.db.query<{ id: string; release: number; site: string; agent: string | null; draining: number; created_at: number; max_memory_mb: number }>(
      `SELECT i.id, i.release, i.site, i.agent, i.draining, i.created_at, r.max_memory_mb FROM instances i
       JOIN releases r ON r.service = i.service AND r.number = i.release WHERE i.service = $1 ORDER BY i.site, i.created_at`, [service],
    );
    return rows.map((r) => {
      const o = this.agents.observation(r.id);
      return {
        id: r.id, service, release: r.release, site: r.site, agent: r.agent,
        state: r.draining === 1 ? 'draining' : (o?.state ?? 'pending'),
        pid: o?.pid ?? null, rssBytes: o?.rssBytes ?? null, cpuPercent: o?.cpuPercent ?? null,
        restarts: o?.restarts ?? 0, crashLoop: o?.crashLoop ?? false, lastExit: o?.lastExit ?? null,
        createdAt: r.created_at, readyAt: o?.readyAt ?? null,
        // Agents from before these were reported leave them out.
        demoted: o?.demoted ?? false, restartAt: o?.restartAt ?? null, maxMemoryMb: Number(r.max_memory_mb),
      };
    });
  }

  /** Run a change in one transaction, then wake the agents it placed instances on. */
  private async change<T>(work: (q: Queryable) => Promise<T>, service: string): Promise<T> {
    let touched = new Set<string>();
    const result = await this.db.tx(async (q) => {
      const r = await work(q);
      touched = await this.reconciler.service(q, service);
      return r;
    });
    this.agents.bump(touched);
    return result;
  }

  private async newRelease(
    q: Queryable, by: Principal, service: string, artifact: string, path: string | null, desired: Record<string, number>, rollbackOf: number | null, maxMemoryMb: number,
  ): Promise<ReleaseBody> {
    const [last] = await q.query<{ n: number | null }>('SELECT MAX(number) AS n FROM releases WHERE service = $1', [service]);
    const number = Number(last?.n ?? 0) + 1;
    const createdAt = Date.now();
    await q.query('INSERT INTO releases (service, number, artifact, path, desired, created_at, created_by, rollback_of, max_memory_mb) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
      [service, number, artifact, path ?? '', JSON.stringify(desired), createdAt, actorOf(by), rollbackOf, maxMemoryMb]);
    return { service, number, artifact, path, desired, createdAt, createdBy: actorOf(by), rollbackOf, maxMemoryMb };
  }

  private checkSites(sites: string[], path: string): void {
    const fields = this.siteProblems(sites, path);
    if (fields.length > 0) throw new InvalidInputError(fields);
  }

  private siteProblems(sites: string[], path: string): Array<{ path: string; message: string }> {
    const unknown = sites.filter((s) => !this.sites.get(s));
    return unknown.length > 0 ? [{ path, message: `names no site of this platform: ${unknown.join(', ')} (sites: ${this.sites.names.join(', ')})` }] : [];
  }

  /**
   * Every site must have an agent, and a datacenter site room for what this service will run
   * there beyond what it runs now (its own instances are replaced, not added to).
   */
  private async checkRoom(q: Queryable, service: string, desired: Record<string, number>): Promise<void> {
    const bySite = await this.agents.siteAgents(q);
    const mine = await q.query<{ site: string; n: number }>('SELECT site, COUNT(*) AS n FROM instances WHERE service = $1 AND draining = 0 GROUP BY site', [service]);
    for (const [site, wanted] of Object.entries(desired)) {
      if (wanted === 0) continue;
      const agents = (bySite.get(site) ?? []).filter((a) => a.up);
      if (agents.length === 0) throw new NoCapacityError(site, wanted, 0, true);
      const free = freeSlots(agents);
      if (free === null) continue;
      const own = Number(mine.find((m) => m.site === site)?.n ?? 0);
      if (wanted > free + own) throw new NoCapacityError(site, wanted, free + own);
    }
  }
}
