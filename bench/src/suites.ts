// Parent-side orchestration of each system: start its server side in child processes, run one
// fresh client process per row, and turn what the children report into rows. Each suite owns
// its children and stops them on the way out, whatever happened.
import { startSquadronBroker, pubsubNote } from './squadron-broker.ts';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Child, freePort, reachable } from './spawn.ts';
import { failedRow, skippedRow, type Row, type ScenarioId, type SystemId, SYSTEM_LABEL, SCENARIO_LABEL } from './row.ts';
import type { LoadResult } from './ipc.ts';

export interface BenchContext {
  calls: number;
  warmup: number;
  payloadBytes: number;
  /** Private temp dir for Unix socket paths; removed by main. */
  tmpDir: string;
  /** Progress goes here (stderr), the table to stdout. */
  progress(line: string): void;
}

/** Where a client of an already started server side connects. */
interface Target {
  scenario: string;
  cfg: object;
}

export interface Suite {
  /** Tokens BENCH_ONLY may name to select it. */
  tags: string[];
  run(ctx: BenchContext): Promise<Row[]>;
  /** Long, and steady enough that one measure will do: run in the first round only. */
  firstRoundOnly?: boolean;
}

const IN_FLIGHT: ReadonlyArray<[ScenarioId, number]> = [['rpc-1', 1], ['rpc-64', 64]];
export const READY_MS = 20_000;
export const NATS_HOST = '127.0.0.1';
export const NATS_PORT = 4222;
export const NATS_SKIP = `skipped: nats-server not reachable at ${NATS_HOST}:${NATS_PORT}`;

/** Generous: startup plus 1 ms per call, so only a wedged run hits it. */
export function runTimeout(ctx: BenchContext): number {
  return 30_000 + (ctx.calls + ctx.warmup);
}

async function started(child: Child, children: Child[]): Promise<string | undefined> {
  children.push(child);
  return (await child.next('ready', READY_MS)).address;
}

export function loadRow(system: SystemId, scenario: ScenarioId, r: LoadResult): Row {
  return {
    system, scenario, status: 'ok',
    rate: (r.calls / r.elapsedMs) * 1000,
    p50Us: r.p50Us, p90Us: r.p90Us, p99Us: r.p99Us, p999Us: r.p999Us, maxUs: r.maxUs, meanUs: r.meanUs,
    count: r.calls, errors: r.errors, elapsedMs: r.elapsedMs,
    ...(r.note ? { note: r.note } : {}),
  };
}

/** Start the server side once, then a client process per in-flight level. */
async function rpcRows(ctx: BenchContext, system: SystemId, start: (children: Child[]) => Promise<Target>): Promise<Row[]> {
  const children: Child[] = [];
  const rows: Row[] = [];
  try {
    const target = await start(children);
    for (const [scenario, inFlight] of IN_FLIGHT) {
      const client = new Child(`${system} client`, target.scenario, 'client', {
        ...target.cfg, calls: ctx.calls, warmup: ctx.warmup, inFlight, payloadBytes: ctx.payloadBytes,
      });
      children.push(client);
      try {
        const { result } = await client.next('load', runTimeout(ctx));
        rows.push(loadRow(system, scenario, result));
      } catch (err) {
        rows.push(failedRow(system, scenario, err));
      } finally {
        await client.stop();
      }
      ctx.progress(describe(rows[rows.length - 1]!));
    }
  } catch (err) {
    for (const [scenario] of IN_FLIGHT.slice(rows.length)) rows.push(failedRow(system, scenario, err));
    ctx.progress(`${SYSTEM_LABEL[system]}: server side failed: ${(err as Error).message}`);
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
  return rows;
}

/**
 * One publisher, one subscriber. Warm-up messages first (counted apart), then the measured
 * batch; rate = received / (first publish → last receive), both clocks being this machine's.
 */
async function pubsubRow(
  ctx: BenchContext, system: SystemId, scenario: string, cfg: object, children: Child[], relay?: () => Promise<string>,
): Promise<Row> {
  const sub = new Child(`${system} sub`, scenario, 'sub', { ...cfg, payloadBytes: ctx.payloadBytes });
  await started(sub, children);
  const pub = new Child(`${system} pub`, scenario, 'pub', { ...cfg, payloadBytes: ctx.payloadBytes });
  await started(pub, children);

  // 100k messages pass in about 0.2 s, too short a window to measure steadily on a shared machine:
  // pub/sub sends five times the call count, after a warm-up ten times the calls' warm-up.
  const warmup = ctx.warmup * 10;
  const count = ctx.calls * 5;
  pub.send({ type: 'publish', count: warmup, flushEvery: 1000 });
  await pub.next('published', runTimeout(ctx));
  sub.send({ type: 'collect', count: warmup, idleMs: 500 });
  await sub.next('received', runTimeout(ctx));

  pub.send({ type: 'publish', count, flushEvery: 1000 });
  const sent = (await pub.next('published', runTimeout(ctx))).result;
  sub.send({ type: 'collect', count, idleMs: 1000 });
  const got = (await sub.next('received', runTimeout(ctx))).result;
  if (got.received === 0) throw new Error(`no message received of ${sent.sent} sent`);
  const spanMs = got.tLast - sent.tFirst;
  // Where drops happened, when the system in the middle can say (cumulative, warm-up included).
  const relayNote = relay ? await relay() : '';
  const notes = [
    sent.refused ? `${sent.refused} refused by the publisher's client` : '',
    got.localDropped ? `${got.localDropped} dropped in the subscriber's queue` : '',
    `publish loop ${(sent.tEnd - sent.tFirst).toFixed(0)} ms`,
    relayNote,
  ].filter(Boolean);
  return {
    system, scenario: 'pubsub', status: 'ok',
    rate: (got.received / spanMs) * 1000,
    count: sent.sent, received: got.received, drops: sent.sent - got.received, elapsedMs: spanMs,
    note: notes.join('; '),
  };
}

async function pubsubRows(ctx: BenchContext, system: SystemId, run: (children: Child[]) => Promise<Row>): Promise<Row[]> {
  const children: Child[] = [];
  let row: Row;
  try {
    row = await run(children);
  } catch (err) {
    row = failedRow(system, 'pubsub', err);
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
  ctx.progress(describe(row));
  return [row];
}

function rawSuite(transport: 'tcp' | 'unix'): Suite {
  const system: SystemId = transport === 'tcp' ? 'raw-tcp' : 'raw-unix';
  return {
    tags: ['raw', system, 'rpc'],
    run: (ctx) => rpcRows(ctx, system, async (children) => {
      const path = join(ctx.tmpDir, 'raw-echo.sock');
      const address = await started(new Child(`${system} server`, 'raw-echo', 'server', { transport, path }), children);
      return { scenario: 'raw-echo', cfg: { transport, address } };
    }),
  };
}

function squadronRpcSuite(tcpOnly: boolean): Suite {
  const system: SystemId = tcpOnly ? 'squadron-tcp' : 'squadron-unix';
  return {
    tags: ['squadron', system, 'rpc'],
    run: (ctx) => rpcRows(ctx, system, async (children) => {
      const { address: broker } = await startSquadronBroker(children, READY_MS);
      await started(new Child(`${system} service`, 'squadron-rpc', 'service', { broker, tcpOnly }), children);
      return { scenario: 'squadron-rpc', cfg: { broker } };
    }),
  };
}

export const natsUrl = `nats://${NATS_HOST}:${NATS_PORT}`;
const uniqueSubject = (kind: string) => `squadron-bench.${kind}.${randomBytes(4).toString('hex')}`;

const natsRpcSuite: Suite = {
  tags: ['nats', 'rpc'],
  run: async (ctx) => {
    if (!(await reachable(NATS_HOST, NATS_PORT))) return IN_FLIGHT.map(([s]) => skippedRow('nats', s, NATS_SKIP));
    return rpcRows(ctx, 'nats', async (children) => {
      const cfg = { url: natsUrl, subject: uniqueSubject('echo') };
      await started(new Child('nats server', 'nats-rpc', 'server', cfg), children);
      return { scenario: 'nats-rpc', cfg };
    });
  },
};

const moleculerSuite: Suite = {
  tags: ['moleculer', 'rpc'],
  run: (ctx) => rpcRows(ctx, 'moleculer', async (children) => {
    const cfg = { serverPort: await freePort(), clientPort: await freePort() };
    await started(new Child('moleculer server', 'moleculer-rpc', 'server', cfg), children);
    return { scenario: 'moleculer-rpc', cfg };
  }),
};

const squadronPubSubSuite: Suite = {
  tags: ['squadron', 'squadron-unix', 'squadron-tcp', 'pubsub'],
  run: (ctx) => pubsubRows(ctx, 'squadron', async (children) => {
    const { address } = await startSquadronBroker(children, READY_MS);
    return pubsubRow(ctx, 'squadron', 'squadron-pubsub', { broker: address, topic: 'bench.pubsub' }, children, () => pubsubNote(address));
  }),
};

const natsPubSubSuite: Suite = {
  tags: ['nats', 'pubsub'],
  run: async (ctx) => {
    if (!(await reachable(NATS_HOST, NATS_PORT))) return [skippedRow('nats', 'pubsub', NATS_SKIP)];
    return pubsubRows(ctx, 'nats', (children) =>
      pubsubRow(ctx, 'nats', 'nats-pubsub', { url: natsUrl, subject: uniqueSubject('pubsub') }, children));
  },
};

/** In run order: floors first, then Squadron, then the peers, then pub/sub. */
export const SUITES: readonly Suite[] = [
  rawSuite('tcp'), rawSuite('unix'), squadronRpcSuite(false), squadronRpcSuite(true),
  natsRpcSuite, moleculerSuite, squadronPubSubSuite, natsPubSubSuite,
];

export function describe(row: Row): string {
  const name = `${SYSTEM_LABEL[row.system]}, ${SCENARIO_LABEL[row.scenario]}`;
  if (row.status !== 'ok') return `${name}: ${row.status}: ${row.reason ?? ''}`;
  const lat = row.p50Us !== undefined ? `, p50 ${row.p50Us.toFixed(0)} µs, p99 ${row.p99Us?.toFixed(0)} µs` : '';
  const drops = row.drops !== undefined ? `, drops ${row.drops}` : '';
  return `${name}: ${Math.round(row.rate ?? 0).toLocaleString('en-US')}/s${lat}${drops}`;
}
