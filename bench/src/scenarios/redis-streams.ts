// Redis Streams on a redis-server that the parent started with `appendfsync always` (every
// write command fsync'ed to the AOF before its reply; Redis batches one fsync per event-loop
// turn). Clients use ioredis with auto-pipelining: commands issued in one tick leave in one write.
//   producer: { port, key, calls, warmup, inFlight, payloadBytes, maxMs } -> enqueued
//     keeps `inFlight` XADD outstanding; each resolves on its reply (after the fsync).
//   consumer: { port, key, total, warmup, inFlight } -> consumed
//     XGROUP CREATE, then XREADGROUP COUNT inFlight in a loop, and one XACK per message,
//     pipelined with the next read.
import { Redis } from 'ioredis';
import { childMain, config, onStop, role, send } from '../child.ts';
import { payloadString } from '../load.ts';
import { DrainCounter, runEnqueues, type DrainPlan, type DurablePlan } from '../durable.ts';

interface Target {
  port: number;
  key: string;
}

const GROUP = 'bench';

async function open(port: number): Promise<Redis> {
  const redis = new Redis({ host: '127.0.0.1', port, enableAutoPipelining: true, maxRetriesPerRequest: 0, lazyConnect: true });
  await redis.connect();
  onStop(() => void redis.disconnect());
  return redis;
}

async function producer(): Promise<void> {
  const cfg = config<Target & DurablePlan>();
  const redis = await open(cfg.port);
  const payload = payloadString(cfg.payloadBytes);
  const result = await runEnqueues(() => redis.xadd(cfg.key, '*', 'd', payload), cfg, 'ioredis, auto-pipelined');
  send({ type: 'enqueued', result });
}

type ReadReply = Array<[string, Array<[string, string[]]>]> | null;

async function consumer(): Promise<void> {
  const cfg = config<Target & DrainPlan & { inFlight: number }>();
  const redis = await open(cfg.port);
  await redis.xgroup('CREATE', cfg.key, GROUP, '0');
  const counter = new DrainCounter(cfg);
  let stalled: unknown = null;
  counter.done.catch((err: unknown) => (stalled = err));
  let ackError: unknown = null;
  const noteAckError = (err: unknown) => (ackError ??= err);
  while (counter.received < cfg.total && stalled === null) {
    // The XACKs of the last batch were issued in this same tick: they leave together with this read.
    const reply = (await redis.call('XREADGROUP', 'GROUP', GROUP, 'c1', 'COUNT', cfg.inFlight, 'STREAMS', cfg.key, '>')) as ReadReply;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) await new Promise((r) => setTimeout(r, 10));
    for (const [id] of entries) {
      counter.hit();
      redis.xack(cfg.key, GROUP, id).catch(noteAckError);
    }
  }
  const { measured, elapsedMs } = await counter.done;
  // Replies come back in order: once this one is in, every XACK before it was answered.
  await redis.ping();
  if (ackError !== null) throw new Error(`an XACK failed: ${String((ackError as Error).message ?? ackError)}`);
  const [pending] = (await redis.xpending(cfg.key, GROUP)) as [number, ...unknown[]];
  const length = await redis.xlen(cfg.key);
  const check = `server after drain: XPENDING ${pending}, XLEN ${length}`;
  if (pending !== 0) throw new Error(`stream not acked: ${check}`);
  send({ type: 'consumed', result: { measured, elapsedMs, note: check } });
}

childMain(role() === 'producer' ? producer : consumer);
