import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db, Queryable } from '../state/db.ts';
import type { AgentRegistry } from './agent-registry.ts';
import { plan, type PlacedInstance } from './placement.ts';

interface InstanceRow {
  id: string;
  release: number;
  site: string;
  agent: string | null;
  draining: number;
  created_at: number;
}

/**
 * Brings placements in line with desired state, service by service: new instances on the
 * roomiest agents, old ones drained as the rollout allows (placement.ts), instances of dead
 * agents placed again. Each pass is one transaction; the agents it touched learn at once.
 */
export class Reconciler {
  private readonly pending = new Set<string>();
  private scheduled = false;
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly db: Db, private readonly agents: AgentRegistry, private readonly logger: Logger) {}

  /** Sweep every service now and then: agents that died, rollouts waiting on time. */
  start(everyMs = 1000): void {
    this.timer = setInterval(() => void this.sweep(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One service, inside the caller's transaction. Returns the agents whose lists changed. */
  async service(q: Queryable, service: string): Promise<Set<string>> {
    const [svc] = await q.query<{ release: number | null; desired: string }>('SELECT release, desired FROM services WHERE name = $1', [service]);
    if (!svc) return new Set();
    const desired = JSON.parse(svc.desired) as Record<string, number>;
    const rows = await q.query<InstanceRow>('SELECT id, release, site, agent, draining, created_at FROM instances WHERE service = $1', [service]);
    const bySite = await this.agents.siteAgents(q);
    const sites = new Set([...Object.keys(desired), ...rows.map((r) => r.site)]);
    const touched = new Set<string>();
    for (const site of sites) {
      const instances: PlacedInstance[] = rows.filter((r) => r.site === site).map((r) => ({
        id: r.id, release: r.release, agent: r.agent, draining: r.draining === 1, createdAt: r.created_at,
        observed: this.agents.observation(r.id)?.state ?? 'unknown',
      }));
      const p = plan({ release: svc.release, desired: desired[site] ?? 0, instances, agents: bySite.get(site) ?? [] });
      for (const agent of p.start) {
        const id = `${service}-${site}-${randomBytes(3).toString('hex')}`;
        await q.query('INSERT INTO instances (id, service, release, site, agent, draining, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6)', [id, service, svc.release, site, agent, Date.now()]);
        touched.add(agent);
      }
      for (const id of p.drain) {
        await q.query('UPDATE instances SET draining = 1 WHERE id = $1', [id]);
        const agent = rows.find((r) => r.id === id)?.agent;
        if (agent) touched.add(agent);
      }
      for (const id of p.forget) {
        await q.query('DELETE FROM instances WHERE id = $1', [id]);
        this.agents.forget(id);
      }
    }
    return touched;
  }

  /** Reconcile `service` soon, coalescing requests made in the same turn. */
  request(service: string): void {
    this.pending.add(service);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const services = [...this.pending];
      this.pending.clear();
      this.running = this.running.then(() => this.pass(services));
    });
  }

  /** Every deployed service, and every service with instances left; then agents long gone. */
  async sweep(): Promise<void> {
    await this.agents.pruneGone().catch((err: unknown) => this.logger.warn({ err }, 'could not prune agents that are gone'));
    const rows = await this.db.query<{ name: string }>(
      'SELECT name FROM services WHERE release IS NOT NULL UNION SELECT DISTINCT service AS name FROM instances',
    ).catch(() => []);
    for (const r of rows) this.request(r.name);
  }

  /** Wait for passes under way (tests, shutdown). */
  async settled(): Promise<void> {
    await this.running;
  }

  private async pass(services: string[]): Promise<void> {
    for (const service of services) {
      try {
        const touched = await this.db.tx((q) => this.service(q, service));
        this.agents.bump(touched);
      } catch (err) {
        this.logger.error({ err, service }, 'reconcile failed; retried on the next sweep');
      }
    }
  }
}
