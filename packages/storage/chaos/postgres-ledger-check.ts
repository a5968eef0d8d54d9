import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { silent, waitFor } from '@squadron/testkit';
import type { Logger } from 'pino';
import { PostgresProvisioner, postgresPool, type FailoverRecord, type PostgresState, type ProvisionContext, type StorageSpec } from '../src/index.ts';

export interface LedgerOptions {
  /** --sync: a commit is acknowledged once the standby has it. */
  sync: boolean;
  /** How many times the primary is SIGKILLed. */
  kills: number;
  /** Concurrent writers, each inserting unique ids through the same Pool. Default 4. */
  writers?: number;
  /** Acknowledged inserts between one recovery and the next kill. Default 200. */
  writesBetweenKills?: number;
  /** The monitor's silence threshold. Default 1000 ms (the platform's default is 2000). */
  failAfterMs?: number;
  progress?: (line: string) => void;
  log?: Logger;
}

export interface KillOutcome {
  from: string;
  to: string;
  /** The monitor's failover time: first unanswered probe to the new primary accepting writes. */
  failoverMs: number;
  /** What the writers saw: from the SIGKILL to the first insert the new primary acknowledged. */
  writeOutageMs: number;
  /** Acknowledged inserts missing at the end that were acknowledged around this kill. */
  lost: number;
  /**
   * When those were acknowledged, relative to the kill (ms, negative before it): the loss window.
   * Null when none was lost.
   */
  lossWindowMs: { from: number; to: number } | null;
}

export interface LedgerResult {
  sync: boolean;
  kills: KillOutcome[];
  attempted: number;
  /** Inserts the database acknowledged. */
  committed: number;
  /** Acknowledged inserts missing from the final primary. */
  lost: number;
  /** Inserts that failed (connection broken, no primary) and are in the table anyway: committed, unacknowledged. */
  unacknowledgedPresent: number;
  seconds: number;
}

/**
 * The ledger: writers insert unique ids into a 2-site resource through the handlers' Pool, while
 * the primary's postmaster is SIGKILLed `kills` times; each time the monitor fails over on its own
 * and rebuilds the killed server as a standby, and the next kill waits for the standby to stream
 * again. At the end every acknowledged id must be in the table of the last primary (with --sync),
 * or the missing ones show the loss window of asynchronous replication.
 */
export async function ledgerCheck(options: LedgerOptions): Promise<LedgerResult> {
  const started = Date.now();
  const say = options.progress ?? (() => {});
  const root = mkdtempSync(join(tmpdir(), 'squadron-postgres-ledger-'));
  const spec: StorageSpec = {
    name: `ledger-${options.sync ? 'sync' : 'async'}`, kind: 'postgres', service: 'ledger', squad: 'chaos',
    sites: ['sto', 'gcp-eu'], primary: 'sto', sync: options.sync,
  };
  const ctx = { dir: join(root, spec.name), log: options.log ?? silent };
  mkdirSync(ctx.dir);
  const provisioner = new PostgresProvisioner({ failover: { probeIntervalMs: 100, probeTimeoutMs: 500, failAfterMs: options.failAfterMs ?? 1_000 } });
  let created: PostgresState;
  try {
    created = await provisioner.create(spec, ctx);
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const live = () => provisioner.stateOf(spec.name) ?? created;
  const pool = await postgresPool(() => provisioner.credentials(spec, created), { max: (options.writers ?? 4) + 2, connectionTimeoutMillis: 1_000 });
  try {
    // Each row says which server committed it, so the outage ends with the new primary's first write.
    await pool.query('CREATE TABLE ledger (id bigint PRIMARY KEY, port int NOT NULL DEFAULT inet_server_port())');

    const acked = new Map<number, number>();
    const failed = new Set<number>();
    /** Each acknowledged insert's send and acknowledgement times. */
    const acks: Array<{ id: number; sent: number; at: number }> = [];
    let nextId = 1;
    let stopping = false;
    const writer = async () => {
      while (!stopping) {
        const id = nextId++;
        const sent = Date.now();
        try {
          await pool.query('INSERT INTO ledger (id) VALUES ($1)', [id]);
          const now = Date.now();
          acked.set(id, now);
          acks.push({ id, sent, at: now });
        } catch {
          failed.add(id);
          // No primary for a moment: a short pause instead of a busy loop of refused connections.
          await sleep(20);
        }
      }
    };
    const writers = Array.from({ length: options.writers ?? 4 }, writer);

    const kills: Array<{ at: number; from: string; to: string; toPort: number; failoverMs: number; writeOutageMs: number }> = [];
    for (let k = 1; k <= options.kills; k++) {
      const base = acked.size;
      await waitFor(() => acked.size >= base + (options.writesBetweenKills ?? 200), 'writes to flow before the next kill', 30_000, 20);
      await waitFor(async () => healthy(provisioner, spec, live(), ctx), 'the standby streaming again before the next kill', 60_000, 50);
      const before = live();
      const pid = provisioner.pidOf(spec.name, before.primary);
      if (pid === undefined) throw new Error(`no running primary in ${before.primary} to kill`);
      const at = Date.now();
      process.kill(pid, 'SIGKILL');
      const after = await waitFor(() => {
        const s = live();
        return s.mode === 'embedded' && s.primary !== before.primary && s.lastFailover ? s.lastFailover : null;
      }, `a failover away from ${before.primary} after kill ${k}`, 30_000, 20);
      const record = after as FailoverRecord;
      const promotedAt = Date.parse(record.at);
      await waitFor(() => acks.some((a) => a.sent > promotedAt), `an acknowledged insert on the new primary after kill ${k}`, 30_000, 20);
      const toPort = provisioner.credentials(spec, live()).hosts[record.to]?.port ?? 0;
      kills.push({ at, from: record.from, to: record.to, toPort, failoverMs: record.ms, writeOutageMs: 0 });
      say(`kill ${k}: primary ${record.from} SIGKILLed, ${record.to} promoted; failover ${record.ms} ms`);
    }
    await waitFor(async () => healthy(provisioner, spec, live(), ctx), 'the standby streaming at the end', 60_000, 50);
    stopping = true;
    await Promise.all(writers);

    const committedBy = new Map((await pool.query<{ id: string; port: number }>('SELECT id, port FROM ledger')).rows.map((r) => [Number(r.id), r.port]));
    const present = { has: (id: number) => committedBy.has(id) };
    const lostIds = [...acked.keys()].filter((id) => !present.has(id));
    for (const k of kills) {
      // Writes are back with the new primary's first acknowledged insert (a backend outliving its
      // postmaster for a moment may still acknowledge some, kept or lost).
      const back = acks.find((a) => a.sent > k.at && committedBy.get(a.id) === k.toPort);
      k.writeOutageMs = back ? back.at - k.at : -1;
    }
    const outcomes: KillOutcome[] = kills.map((k) => ({ from: k.from, to: k.to, failoverMs: k.failoverMs, writeOutageMs: k.writeOutageMs, lost: 0, lossWindowMs: null }));
    for (const id of lostIds) {
      // Each lost insert belongs to the kill nearest its acknowledgement.
      const ackAt = acked.get(id) ?? 0;
      let nearest = 0;
      for (let i = 1; i < kills.length; i++) if (Math.abs(kills[i]!.at - ackAt) < Math.abs(kills[nearest]!.at - ackAt)) nearest = i;
      const o = outcomes[nearest];
      if (!o) continue;
      o.lost += 1;
      const offset = ackAt - kills[nearest]!.at;
      o.lossWindowMs = { from: Math.min(o.lossWindowMs?.from ?? offset, offset), to: Math.max(o.lossWindowMs?.to ?? offset, offset) };
    }
    return {
      sync: options.sync,
      kills: outcomes,
      attempted: nextId - 1,
      committed: acked.size,
      lost: lostIds.length,
      unacknowledgedPresent: [...failed].filter((id) => present.has(id)).length,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await pool.end().catch(() => {});
    await provisioner.destroy(spec, live(), ctx).catch(() => {});
    rmSync(root, { recursive: true, force: true });
  }
}

/** Every site up, and the standby streaming (synchronously, with --sync). */
async function healthy(provisioner: PostgresProvisioner, spec: StorageSpec, state: PostgresState, ctx: ProvisionContext): Promise<boolean> {
  const d = await provisioner.describe(spec, state, ctx);
  return d.sites.every((s) => s.up && (s.role === 'primary' || (s.detail ?? '').startsWith(`streaming, ${spec.sync ? 'quorum' : 'async'}`)));
}

/** The middle value and the largest. */
export function p50max(values: number[]): { p50: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: sorted[Math.floor((sorted.length - 1) / 2)] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
}
