// nats.js pub/sub through the machine's nats-server: one publisher process, one subscriber
// process, paced with nc.flush() every ~1000 messages exactly like the Squadron row.
//   sub: { url, subject }                 -> ready (subscription confirmed by a flush)
//   pub: { url, subject, payloadBytes }   -> ready; then `publish` commands -> published
import { connect } from 'nats';
import { childMain, config, onStop, role, send } from '../child.ts';
import { Collector, servePublisher } from '../pubsub.ts';
import { payloadString } from '../load.ts';

interface PubSubConfig {
  url: string;
  subject: string;
  payloadBytes: number;
}

async function subscriber(): Promise<void> {
  const cfg = config<PubSubConfig>();
  const nc = await connect({ servers: cfg.url, name: 'bench-sub' });
  onStop(() => nc.close());
  const collector = new Collector();
  nc.subscribe(cfg.subject, { callback: () => collector.hit() });
  await nc.flush();
  send({ type: 'ready' });
}

async function publisher(): Promise<void> {
  const cfg = config<PubSubConfig>();
  const nc = await connect({ servers: cfg.url, name: 'bench-pub' });
  onStop(() => nc.close());
  const payload = new TextEncoder().encode(payloadString(cfg.payloadBytes));
  servePublisher({
    publish: () => nc.publish(cfg.subject, payload),
    flush: () => nc.flush(),
    refused: () => 0,
  });
  send({ type: 'ready' });
}

childMain(role() === 'sub' ? subscriber : publisher);
