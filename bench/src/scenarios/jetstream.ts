// NATS JetStream with file storage. The parent creates the stream and a durable pull consumer
// (and deletes them), so that a failed child can leave nothing behind on a shared server.
//   producer: { url, stream, subject, consumer, calls, warmup, inFlight, payloadBytes, maxMs } -> enqueued
//     keeps `inFlight` js.publish() outstanding; each resolves on the server's PubAck.
//   consumer: { url, stream, subject, consumer, total, warmup, inFlight } -> consumed
//     consumer.consume({ max_messages: inFlight }) with a callback that m.ack()s each message.
import { connect } from 'nats';
import { childMain, config, onStop, role, send } from '../child.ts';
import { payloadString } from '../load.ts';
import { DrainCounter, runEnqueues, type DrainPlan, type DurablePlan } from '../durable.ts';

interface Target {
  url: string;
  stream: string;
  subject: string;
  consumer: string;
}

async function producer(): Promise<void> {
  const cfg = config<Target & DurablePlan>();
  const nc = await connect({ servers: cfg.url, name: 'bench-js-producer' });
  onStop(() => nc.close());
  const js = nc.jetstream();
  const payload = new TextEncoder().encode(payloadString(cfg.payloadBytes));
  const result = await runEnqueues(() => js.publish(cfg.subject, payload), cfg);
  send({ type: 'enqueued', result });
}

async function consumer(): Promise<void> {
  const cfg = config<Target & DrainPlan & { inFlight: number }>();
  const nc = await connect({ servers: cfg.url, name: 'bench-js-consumer' });
  onStop(() => nc.close());
  const js = nc.jetstream();
  const c = await js.consumers.get(cfg.stream, cfg.consumer);
  const counter = new DrainCounter(cfg);
  const messages = await c.consume({
    max_messages: cfg.inFlight,
    callback: (m) => {
      counter.hit();
      m.ack();
    },
  });
  const { measured, elapsedMs } = await counter.done;
  await messages.close();
  // Acks are plain publishes: once a PING round trip is back the server has them all. It
  // applies them to the consumer on its own time, so the check polls briefly.
  await nc.flush();
  const jsm = await nc.jetstreamManager();
  let info = await jsm.consumers.info(cfg.stream, cfg.consumer);
  for (let i = 0; i < 40 && (info.num_ack_pending > 0 || info.num_pending > 0); i++) {
    await new Promise((r) => setTimeout(r, 50));
    info = await jsm.consumers.info(cfg.stream, cfg.consumer);
  }
  const check = `server after drain: pending ${info.num_pending}, unacked ${info.num_ack_pending}, redelivered ${info.num_redelivered}, ack floor ${info.ack_floor.stream_seq}`;
  if (info.num_pending !== 0 || info.num_ack_pending !== 0) throw new Error(`stream not drained and acked: ${check}`);
  send({ type: 'consumed', result: { measured, elapsedMs, note: check } });
}

childMain(role() === 'producer' ? producer : consumer);
