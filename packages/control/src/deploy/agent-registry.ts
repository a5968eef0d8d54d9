import { randomBytes } from 'node:crypto';
import type { AgentBody, AssignmentsBody, InstanceReportBody, RegisterAgentRequest, RegisteredAgentBody, ServiceInterfaceBody } from '@squadron/client';
import type { Db, Queryable } from '../state/db.ts';
import type { Sites } from '../sites.ts';
import { InvalidInputError, NotFoundError } from '../control-errors.ts';
import type { SiteAgent } from './placement.ts';

export interface AgentRegistryOptions {
  /** Agents report at least this often (default 2 s)… */
  reportEveryMs?: number;
  /** …and are taken for dead after this long without a report (default 3 reports). */
  deadAfterMs?: number;
}

export interface ReportOutcome {
  changed: Set<string>;
  gone: string[];
  interfaces: Array<{ service: string; release: number; iface: ServiceInterfaceBody }>;
}

interface Waiter {
  after: number;
  wake: () => void;
}

/**
 * The agents of every site: registered in the state store; what they last said of their
 * instances, in memory (they say it again within seconds of a control-plane restart); and the
 * long polls through which each learns, at once, that its list of instances changed.
 */
export class AgentRegistry {
  readonly reportEveryMs: number;
  private readonly deadAfterMs: number;
  private readonly lastSeen = new Map<string, number>();
  private readonly versions = new Map<string, number>();
  /**
   * Versions start here, at this control plane's start time: a version an agent got from an
   * earlier run of the control plane never equals one of this run, so its next poll is answered
   * at once with the whole list, and `after=0` (an agent's first poll) always is.
   */
  private readonly epoch = Date.now();
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** instance id → what its agent last reported */
  private readonly observed = new Map<string, InstanceReportBody & { agent: string }>();

  constructor(private readonly db: Db, private readonly sites: Sites, options: AgentRegistryOptions = {}) {
    this.reportEveryMs = options.reportEveryMs ?? 2000;
    this.deadAfterMs = options.deadAfterMs ?? 3 * this.reportEveryMs;
  }

  async register(req: RegisterAgentRequest): Promise<RegisteredAgentBody> {
    const site = this.sites.get(req.site);
    if (!site) throw new InvalidInputError([{ path: '/site', message: `is not a site of this platform (${this.sites.names.join(', ')})` }]);
    if (site.kind === 'cloud' && req.slots !== undefined) throw new InvalidInputError([{ path: '/slots', message: 'is for datacenter sites; cloud sites are elastic' }]);
    const id = `${req.site}-${randomBytes(4).toString('hex')}`;
    const now = Date.now();
    const slots = site.kind === 'cloud' ? null : (req.slots ?? site.slots);
    await this.db.query('INSERT INTO agents (id, site, host, slots, registered_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)', [id, req.site, req.host, slots, now, now]);
    this.lastSeen.set(id, now);
    return { id, reportEveryMs: this.reportEveryMs };
  }

  isUp(id: string, lastSeenInStore = 0): boolean {
    const seen = Math.max(this.lastSeen.get(id) ?? 0, lastSeenInStore);
    return Date.now() - seen <= this.deadAfterMs;
  }

  /** Every agent with its load, for placement: instances placed on it, draining ones included. */
  async siteAgents(q: Queryable): Promise<Map<string, SiteAgent[]>> {
    const rows = await q.query<{ id: string; site: string; slots: number | null; last_seen_at: number; used: number }>(
      'SELECT a.id, a.site, a.slots, a.last_seen_at, (SELECT COUNT(*) FROM instances i WHERE i.agent = a.id) AS used FROM agents a',
    );
    const bySite = new Map<string, SiteAgent[]>();
    for (const r of rows) {
      let list = bySite.get(r.site);
      if (!list) bySite.set(r.site, (list = []));
      list.push({ id: r.id, slots: r.slots, up: this.isUp(r.id, r.last_seen_at), used: Number(r.used) });
    }
    return bySite;
  }

  async list(): Promise<AgentBody[]> {
    const rows = await this.db.query<{ id: string; site: string; host: string; slots: number | null; last_seen_at: number; used: number }>(
      'SELECT a.id, a.site, a.host, a.slots, a.last_seen_at, (SELECT COUNT(*) FROM instances i WHERE i.agent = a.id) AS used FROM agents a ORDER BY a.site, a.id',
    );
    return rows.map((r) => {
      const lastSeenAt = Math.max(this.lastSeen.get(r.id) ?? 0, r.last_seen_at);
      return { id: r.id, site: r.site, host: r.host, slots: r.slots, lastSeenAt, up: this.isUp(r.id, r.last_seen_at), instances: Number(r.used) };
    });
  }

  /**
   * Forget agents silent for `afterMs` (default a minute) that run nothing any more: an agent
   * that was replaced (a machine gone, a platform restarted) leaves the list once its instances
   * have been placed elsewhere.
   */
  async pruneGone(afterMs = 60_000): Promise<void> {
    const cutoff = Date.now() - afterMs;
    const rows = await this.db.query<{ id: string }>('SELECT a.id FROM agents a WHERE a.last_seen_at < $1 AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.agent = a.id)', [cutoff]);
    for (const { id } of rows) {
      if ((this.lastSeen.get(id) ?? 0) >= cutoff) continue;
      await this.db.query('DELETE FROM agents WHERE id = $1', [id]);
      this.lastSeen.delete(id);
      this.versions.delete(id);
    }
  }

  /** Tell these agents' long polls that their lists changed. */
  bump(agents: Iterable<string>): void {
    for (const id of agents) {
      const v = (this.versions.get(id) ?? this.epoch) + 1;
      this.versions.set(id, v);
      for (const w of this.waiters.get(id) ?? []) if (v > w.after) w.wake();
    }
  }

  /**
   * The agent's list of instances; if it has not changed since `after`, wait for a change up to
   * `waitMs`.
   */
  async assignments(id: string, after: number, waitMs: number): Promise<AssignmentsBody> {
    const site = await this.siteOf(id);
    this.lastSeen.set(id, Date.now());
    const version = this.versions.get(id) ?? this.epoch;
    if (after === version) {
      await new Promise<void>((resolve) => {
        let set = this.waiters.get(id);
        if (!set) this.waiters.set(id, (set = new Set()));
        const w: Waiter = { after, wake: () => { clearTimeout(timer); set.delete(w); resolve(); } };
        const timer = setTimeout(w.wake, waitMs);
        set.add(w);
      });
    }
    const rows = await this.db.query<{ id: string; service: string; release: number; artifact: string | null; max_memory_mb: number }>(
      `SELECT i.id, i.service, i.release, r.artifact, r.max_memory_mb FROM instances i JOIN releases r ON r.service = i.service AND r.number = i.release
       WHERE i.agent = $1 AND i.draining = 0 ORDER BY i.id`, [id],
    );
    const config = this.sites.get(site)!;
    return {
      version: this.versions.get(id) ?? this.epoch,
      broker: this.sites.brokerOf(site) ?? null,
      instances: rows.map((r) => ({
        id: r.id, service: r.service, release: Number(r.release), artifact: r.artifact, site, provisionDelayMs: config.provisionDelayMs, maxMemoryMb: Number(r.max_memory_mb),
      })),
    };
  }

  /**
   * Take an agent's report. Returns the services whose instances changed state (their rollout
   * may move on), the draining instances that are gone (their records can go), and the
   * interfaces of instances that just became ready.
   */
  async report(id: string, instances: InstanceReportBody[]): Promise<ReportOutcome> {
    await this.siteOf(id);
    const now = Date.now();
    this.lastSeen.set(id, now);
    await this.db.query('UPDATE agents SET last_seen_at = $1 WHERE id = $2', [now, id]);
    const placed = await this.db.query<{ id: string; service: string; release: number; draining: number }>('SELECT id, service, release, draining FROM instances WHERE agent = $1', [id]);
    const reported = new Map(instances.map((i) => [i.id, i]));
    const changed = new Set<string>();
    const gone: string[] = [];
    const interfaces: ReportOutcome['interfaces'] = [];
    for (const p of placed) {
      const now = reported.get(p.id);
      const before = this.observed.get(p.id);
      if (now) {
        if (before?.state !== now.state) changed.add(p.service);
        if (now.state === 'ready' && before?.state !== 'ready' && now.interface) interfaces.push({ service: p.service, release: p.release, iface: now.interface });
        this.observed.set(p.id, { ...now, agent: id });
      } else if (p.draining) {
        gone.push(p.id);
        this.observed.delete(p.id);
        changed.add(p.service);
      }
    }
    return { changed, gone, interfaces };
  }

  observation(instance: string): (InstanceReportBody & { agent: string }) | undefined {
    return this.observed.get(instance);
  }

  forget(instance: string): void {
    this.observed.delete(instance);
  }

  /** End every long poll (the server is closing). */
  close(): void {
    for (const set of this.waiters.values()) for (const w of [...set]) w.wake();
  }

  private async siteOf(id: string): Promise<string> {
    const rows = await this.db.query<{ site: string }>('SELECT site FROM agents WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError('agent', id, 'register again');
    return rows[0].site;
  }
}
