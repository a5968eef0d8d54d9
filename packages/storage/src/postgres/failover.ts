import { StorageError } from '../provisioner.ts';
import type { PostgresCluster } from './cluster.ts';
import { ensureSlot, primarySettings, promote, receivedPosition, standbySettings } from './replication.ts';
import type { FailoverRecord } from './state.ts';

export interface FailoverRequest {
  /** The site to promote; by default the standby that has received the most WAL. */
  to?: string;
  /** `command`, or the monitor's `primary silent`. */
  reason: string;
  /**
   * When the monitor first found the primary silent: the failover's time counts from there, and
   * the primary is fenced without asking it again.
   */
  since?: number;
  /** The site the monitor found silent: if the primary moved meanwhile (a command), nothing is done. */
  from?: string;
}

/**
 * Moves the primary to a standby. A primary that still answers is stopped cleanly first, which
 * sends its last WAL to the standbys (nothing is lost, even without --sync); one that does not is
 * fenced: its process group is killed, so it cannot take a write after the standby is promoted.
 * The promoted site takes the synchronous settings, slots are made for the others, the other
 * standbys follow it, and the platform is told (clients re-read where the primary is). Then the
 * old primary is rebuilt as a standby of the new one (pg_rewind undoes what the new primary never
 * got); if that fails, the monitor tries again later.
 */
export function failover(cluster: PostgresCluster, request: FailoverRequest): Promise<FailoverRecord> {
  return cluster.exclusive(async () => {
    const started = request.since ?? Date.now();
    const { spec, state, deps } = cluster;
    const old = cluster.primaryServer();
    if (request.from !== undefined && request.from !== old.site) {
      throw new StorageError('CONFLICT', `the primary of ${spec.name} already moved from ${request.from} to ${old.site}`);
    }
    if (request.to !== undefined) {
      cluster.server(request.to);
      if (request.to === old.site) throw new StorageError('CONFLICT', `site ${request.to} is already the primary of ${spec.name}`);
    }
    const candidates: string[] = [];
    let silent = 0; // running, but not answering within the probe's time (a busy machine, a recovery)
    for (const site of request.to !== undefined ? [request.to] : cluster.standbySites()) {
      const s = cluster.server(site);
      if (s.running && (await s.answers(1_000))) candidates.push(site);
      else if (s.running) silent++;
    }
    if (candidates.length === 0) {
      const why = silent > 0 ? 'does not answer' : 'is not running';
      throw new StorageError('STORAGE_UNAVAILABLE', request.to !== undefined
        ? `the standby of site ${request.to} ${why}, so it cannot take over ${spec.name}: wait for it to come back (squadron storage show), or name another site`
        : `no standby of ${spec.name} ${silent > 0 ? 'answers' : 'is running'} to take over: wait for one to come back (squadron storage show)`);
    }

    if (request.since === undefined && old.running && (await old.answers(1_000))) {
      await old.stop();
    } else {
      await old.reap();
    }

    // The most advanced standby holds every commit any standby acknowledged (with --sync, all of them).
    const positions = new Map<string, number>();
    for (const site of cluster.standbySites()) {
      if (cluster.server(site).running) positions.set(site, (await receivedPosition(cluster.server(site)).catch(() => null)) ?? -1);
    }
    const target = candidates.reduce((a, b) => ((positions.get(b) ?? -1) > (positions.get(a) ?? -1) ? b : a));
    const next = cluster.server(target);
    const others = spec.sites.filter((s) => s !== target);

    // Synchronous from its first commit as a primary: settings loaded before promotion.
    next.writeRoleSettings({ ...standbySettings(target, old, state.replicationPassword), ...primarySettings(state.sync, others) });
    await next.query('SELECT pg_reload_conf()');
    deps.log.debug({ resource: spec.name, target, ms: Date.now() - started }, 'promoting');
    await promote(next);
    deps.log.debug({ resource: spec.name, target, ms: Date.now() - started }, 'promoted');
    next.writeRoleSettings(primarySettings(state.sync, others));
    await next.query('SELECT pg_reload_conf()');
    for (const site of others) await ensureSlot(next, site);

    const record: FailoverRecord = { from: old.site, to: target, reason: request.reason, at: new Date().toISOString(), ms: Date.now() - started };
    state.primary = target;
    state.failovers += 1;
    state.lastFailover = record;
    cluster.changed();
    deps.log.warn({ resource: spec.name, ...record }, 'postgres failover: new primary');

    const targetPosition = positions.get(target) ?? -1;
    const rebuild = [old.site];
    for (const site of others) {
      const s = cluster.server(site);
      if (site === old.site || !s.running) continue;
      if ((positions.get(site) ?? -1) > targetPosition) {
        // It received WAL the new primary never got (a less advanced site was named): it is
        // stopped and rewound like the old primary, since it cannot follow the new timeline.
        await s.stop();
        s.setStandby(false);
        rebuild.push(site);
        continue;
      }
      s.writeRoleSettings(standbySettings(site, next, state.replicationPassword));
      await s.query('SELECT pg_reload_conf()').catch(() => {});
    }
    for (const site of rebuild) {
      try {
        await cluster.bringBackStandby(site);
      } catch (err) {
        deps.log.warn({ resource: spec.name, site, err: (err as Error).message }, 'site not rebuilt as a standby yet; the monitor will try again');
      }
    }
    return record;
  });
}
