// Durable messaging rows: acknowledged enqueues (256 in flight, 128 B), then a consumer that
// drains the same messages and acks each one, for Squadron's durable queues, NATS JetStream
// (file storage) and Redis Streams. Each system runs at the durability its row states:
//   squadron         broker with a data dir: fdatasync before the ack (group commit)
//   jetstream        the machine's nats-server: file storage, synced by the server every 2 min
//   jetstream-sync   a private nats-server with `sync_interval: always` (where the binary has it)
//   redis            a private redis-server with `appendonly yes`, `appendfsync always`
// Everything a suite starts (children, servers, streams, data dirs) it removes on the way out.
import { startSquadronBroker, logNote } from './squadron-broker.ts';
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { AckPolicy, connect as natsConnect, nanos, RetentionPolicy, StorageType, type NatsConnection } from 'nats';
import { existsSync } from 'node:fs';
import { Child, cleanupOnExit, freePort, reachable, ServerProcess } from './spawn.ts';
import { failedRow, skippedRow, type Row, type SystemId } from './row.ts';
import { DURABILITY, DURABLE_IN_FLIGHT } from './durability.ts';
import { describe, loadRow, NATS_HOST, NATS_PORT, NATS_SKIP, natsUrl, READY_MS, runTimeout, type BenchContext, type Suite } from './suites.ts';

/** The measured enqueue phase stops after this long even if short of BENCH_CALLS (slow peers). */
const ENQUEUE_CAP_MS = 20_000;
const NATS_SERVER_BIN = '/usr/sbin/nats-server';
const REDIS_SERVER_BIN = '/usr/bin/redis-server';
/** Streams this benchmark creates on the shared nats-server all start so. */
const STREAM_PREFIX = 'SQUADRON_BENCH_';

/**
 * Durable rows warm up ten times longer than request-reply (20,000 enqueues, about a quarter of
 * a second), as pub/sub does: 2,000 enqueues at 256 in flight are eight round trips, over before
 * either process has compiled its hot path or sized its heap. Every durable system gets the same.
 */
const DURABLE_WARMUP_FACTOR = 10;

/** Thrown by a suite's start when its rows cannot run on this machine: they read `skipped`. */
class SkipRow extends Error {}

/** Where producer and consumer children of one system connect. */
interface Target {
  scenario: string;
  cfg: object;
  /** Extra words for the enqueue row, asked after the producer finished (e.g. fsync counts). */
  afterEnqueue?: () => Promise<string>;
}

function durableRow(row: Row, system: SystemId): Row {
  const d = DURABILITY[system];
  return d ? { ...row, durability: d.short, syncedBeforeAck: d.synced } : row;
}

/** Start the server side, run the producer, then a consumer that drains what it stored. */
async function durableRows(ctx: BenchContext, system: SystemId, start: (owned: Array<Child | ServerProcess>) => Promise<Target>, cleanup?: () => Promise<void>): Promise<Row[]> {
  const owned: Array<Child | ServerProcess> = [];
  const rows: Row[] = [];
  const report = (row: Row) => {
    rows.push(durableRow(row, system));
    ctx.progress(describe(row));
  };
  try {
    const target = await start(owned);
    const producer = new Child(`${system} producer`, target.scenario, 'producer', {
      ...target.cfg, calls: ctx.calls, warmup: ctx.warmup * DURABLE_WARMUP_FACTOR, inFlight: DURABLE_IN_FLIGHT, payloadBytes: ctx.payloadBytes, maxMs: ENQUEUE_CAP_MS,
    });
    owned.push(producer);
    let produced: { total: number; warmup: number };
    try {
      const { result } = await producer.next('enqueued', runTimeout(ctx) + ENQUEUE_CAP_MS);
      produced = result;
      const row = loadRow(system, 'enqueue', result);
      const extra = target.afterEnqueue ? await target.afterEnqueue().catch(() => '') : '';
      report(extra ? { ...row, note: [row.note, extra].filter(Boolean).join('; ') } : row);
    } finally {
      await producer.stop();
    }

    const consumer = new Child(`${system} consumer`, target.scenario, 'consumer', {
      ...target.cfg, total: produced.total, warmup: produced.warmup, inFlight: DURABLE_IN_FLIGHT,
    });
    owned.push(consumer);
    try {
      const { result } = await consumer.next('consumed', runTimeout(ctx));
      report({
        system, scenario: 'consume', status: 'ok',
        rate: (result.measured / result.elapsedMs) * 1000,
        count: result.measured, errors: 0, elapsedMs: result.elapsedMs, note: result.note,
      });
    } catch (err) {
      report(failedRow(system, 'consume', err));
    } finally {
      await consumer.stop();
    }
  } catch (err) {
    const row = (scenario: 'enqueue' | 'consume') => (err instanceof SkipRow ? skippedRow(system, scenario, err.message) : failedRow(system, scenario, err));
    if (rows.length === 0) report(row('enqueue'));
    if (rows.length === 1) report(row('consume'));
  } finally {
    // Clients first; then `cleanup`, which may still need a server (deleting a stream); then servers.
    const servers = owned.filter((p) => p instanceof ServerProcess);
    for (const p of owned.filter((p) => !(p instanceof ServerProcess)).reverse()) await p.stop();
    await cleanup?.().catch((err: unknown) => ctx.progress(`${system}: cleanup failed: ${(err as Error).message}`));
    for (const p of servers.reverse()) await p.stop();
  }
  return rows;
}

const skipBoth = (system: SystemId, reason: string): Row[] =>
  (['enqueue', 'consume'] as const).map((scenario) => durableRow(skippedRow(system, scenario, reason), system));

const unique = () => randomBytes(4).toString('hex');

/** A fresh directory for one row's data, under the run's temp dir (same disk for every system). */
export async function dataDir(ctx: BenchContext, name: string): Promise<string> {
  const dir = join(ctx.tmpDir, `${name}-${unique()}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

const squadronDurableSuite: Suite = {
  tags: ['squadron', 'durable', 'squadron-durable'],
  run: async (ctx) => {
    const dir = await dataDir(ctx, 'squadron-data');
    try {
      return await durableRows(ctx, 'squadron', async (owned) => {
        const { address } = await startSquadronBroker(owned, READY_MS, dir);
        return { scenario: 'squadron-durable', cfg: { broker: address, queue: 'bench' }, afterEnqueue: () => logNote(address) };
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/**
 * Create the stream (file storage) and a durable pull consumer with explicit acks, at most
 * DURABLE_IN_FLIGHT unacknowledged like the other systems' consumers. Streams this benchmark
 * left behind more than an hour ago (a run that was SIGKILLed) are deleted on the way.
 */
async function createStream(nc: NatsConnection): Promise<{ stream: string; subject: string; consumer: string }> {
  const jsm = await nc.jetstreamManager();
  for await (const s of jsm.streams.list()) {
    if (s.config.name.startsWith(STREAM_PREFIX) && Date.now() - Date.parse(s.created) > 3_600_000) {
      await jsm.streams.delete(s.config.name).catch(() => false);
    }
  }
  const id = unique();
  const stream = `${STREAM_PREFIX}${id}`;
  const subject = `squadron-bench.durable.${id}`;
  const consumer = 'bench';
  await jsm.streams.add({
    name: stream, subjects: [subject], storage: StorageType.File, retention: RetentionPolicy.Limits,
    // Bounds what a stream left by a killed run holds until the next run deletes it.
    max_age: nanos(3_600_000),
  });
  await jsm.consumers.add(stream, { durable_name: consumer, ack_policy: AckPolicy.Explicit, max_ack_pending: DURABLE_IN_FLIGHT });
  return { stream, subject, consumer };
}

/** Rows for JetStream at `url`; the stream is created before and deleted after, whatever happened. */
async function jetstreamRows(ctx: BenchContext, system: SystemId, url: string, start?: (owned: Array<Child | ServerProcess>) => Promise<void>): Promise<Row[]> {
  let nc: NatsConnection | null = null;
  let dropStream: (() => Promise<unknown>) | null = null;
  let forget = () => {};
  return durableRows(ctx, system, async (owned) => {
    await start?.(owned);
    const admin = (nc = await natsConnect({ servers: url, name: 'bench-js-admin' }));
    const s = await createStream(admin);
    dropStream = async () => (await admin.jetstreamManager()).streams.delete(s.stream);
    // Interrupted before the suite's own cleanup: still delete it from a server that may be shared.
    forget = cleanupOnExit(dropStream);
    return { scenario: 'jetstream', cfg: { url, ...s } };
  }, async () => {
    forget();
    try {
      await dropStream?.();
    } finally {
      await nc?.close();
    }
  });
}

const jetstreamSuite: Suite = {
  tags: ['nats', 'jetstream', 'durable'],
  run: async (ctx) => {
    if (!(await reachable(NATS_HOST, NATS_PORT))) return skipBoth('jetstream', NATS_SKIP.replace(/^skipped: /, ''));
    return jetstreamRows(ctx, 'jetstream', natsUrl);
  },
};

let natsVersion: Promise<string> | null = null;
function natsServerVersion(): Promise<string> {
  natsVersion ??= promisify(execFile)(NATS_SERVER_BIN, ['--version']).then((r) => r.stdout.trim().replace(/^nats-server:\s*/, ''), () => 'unknown version');
  return natsVersion;
}

/** Set when this machine's nats-server refused `sync_interval`: no need to try again next round. */
let syncRefused: string | null = null;

const jetstreamSyncSuite: Suite = {
  tags: ['nats', 'jetstream', 'durable'],
  run: async (ctx) => {
    if (syncRefused !== null) return skipBoth('jetstream-sync', syncRefused);
    if (!existsSync(NATS_SERVER_BIN)) return skipBoth('jetstream-sync', `no nats-server binary at ${NATS_SERVER_BIN}`);
    const dir = await dataDir(ctx, 'nats-sync');
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const conf = join(dir, 'nats.conf');
    await writeFile(conf, `listen: "127.0.0.1:${port}"\njetstream {\n  store_dir: "${join(dir, 'js')}"\n  sync_interval: always\n}\n`);
    try {
      return await jetstreamRows(ctx, 'jetstream-sync', url, async (owned) => {
        const server = new ServerProcess('nats-server (sync always)', NATS_SERVER_BIN, ['-c', conf]);
        owned.push(server);
        try {
          await server.listening('127.0.0.1', port);
        } catch (err) {
          if (/unknown field "sync_interval"/.test(server.output)) {
            syncRefused = `this machine's nats-server (${await natsServerVersion()}) refuses \`sync_interval: always\` (unknown field "sync_interval"; it came in v2.10), so JetStream cannot sync before the ack here`;
            throw new SkipRow(syncRefused);
          }
          throw err;
        }
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

const redisSuite: Suite = {
  tags: ['redis', 'durable'],
  run: async (ctx) => {
    if (!existsSync(REDIS_SERVER_BIN)) return skipBoth('redis', `no redis-server binary at ${REDIS_SERVER_BIN}`);
    const dir = await dataDir(ctx, 'redis-data');
    try {
      return await durableRows(ctx, 'redis', async (owned) => {
        const port = await freePort();
        const server = new ServerProcess('redis-server', REDIS_SERVER_BIN, [
          '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--daemonize', 'no',
          '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--dir', dir, '--logfile', '',
        ]);
        owned.push(server);
        await server.listening('127.0.0.1', port);
        return { scenario: 'redis-streams', cfg: { port, key: `bench:${unique()}` } };
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** In run order, after the request-reply and pub/sub suites. */
export const DURABLE_SUITES: readonly Suite[] = [squadronDurableSuite, jetstreamSuite, jetstreamSyncSuite, redisSuite];
