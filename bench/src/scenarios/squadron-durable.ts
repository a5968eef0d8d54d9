// Squadron durable queues on a broker started with a data dir (../squadron-broker.ts).
//   producer: { broker, queue, calls, warmup, inFlight, payloadBytes, maxMs } -> enqueued
//     keeps `inFlight` c.enqueue() outstanding; each resolves once the broker has the message
//     on disk (fdatasync'ed, group commit).
//   consumer: { broker, queue, total, warmup, inFlight } -> consumed
//     c.consume() with concurrency = inFlight; the handler returns at once, and the SDK acks.
import { connect } from '@squadron/sdk';
import type { QueueStats } from '@squadron/broker';
import { childMain, config, onStop, role, send } from '../child.ts';
import { payloadString } from '../load.ts';
import { DrainCounter, runEnqueues, type DrainPlan, type DurablePlan } from '../durable.ts';

interface Target {
  broker: string;
  queue: string;
}

async function producer(): Promise<void> {
  const cfg = config<Target & DurablePlan>();
  const c = await connect({ site: 'bench', broker: cfg.broker, name: 'bench-producer' });
  onStop(() => c.close());
  const payload = payloadString(cfg.payloadBytes);
  const result = await runEnqueues(() => c.enqueue(cfg.queue, payload), cfg);
  send({ type: 'enqueued', result });
}

async function consumer(): Promise<void> {
  const cfg = config<Target & DrainPlan & { inFlight: number }>();
  const c = await connect({ site: 'bench', broker: cfg.broker, name: 'bench-consumer' });
  onStop(() => c.close());
  const counter = new DrainCounter(cfg);
  const consumer = c.consume(cfg.queue, () => counter.hit(), { concurrency: cfg.inFlight });
  const { measured, elapsedMs } = await counter.done;
  // The acks are frames without replies: once a round trip on the same connection is back,
  // the broker has processed every one of them, and its queue stats can be checked.
  await c.flush();
  consumer.stop();
  const q = (await c.session.query<{ queues: QueueStats[] }>({ what: 'queues' })).queues.find((s) => s.queue === cfg.queue);
  const check = q
    ? `broker after drain: depth ${q.depth}, unacked ${q.inFlight}, acked ${q.acked}, redelivered ${q.redelivered}`
    : 'broker did not list the queue';
  if (q && (q.depth !== 0 || q.inFlight !== 0 || q.acked !== cfg.total)) throw new Error(`queue not drained and acked: ${check} (expected ${cfg.total} acked)`);
  send({ type: 'consumed', result: { measured, elapsedMs, note: check } });
}

childMain(role() === 'producer' ? producer : consumer);
