// Squadron pub/sub through the broker: one publisher process, one subscriber process.
//   sub: { broker, topic, payloadBytes } -> ready (once its subscription is live at the broker)
//   pub: { broker, topic, payloadBytes } -> ready; then `publish` commands -> published
import { connect } from '@squadron/sdk';
import { childMain, config, onStop, role, send } from '../child.ts';
import { Collector, servePublisher } from '../pubsub.ts';
import { payloadString } from '../load.ts';

interface PubSubConfig {
  broker: string;
  topic: string;
  payloadBytes: number;
}

async function subscriber(): Promise<void> {
  const cfg = config<PubSubConfig>();
  const c = await connect({ site: 'bench', broker: cfg.broker, name: 'bench-sub' });
  onStop(() => c.close());
  let probed: (() => void) | null = null;
  let collector: Collector | null = null;
  const sub = c.subscribe(cfg.topic, () => {
    if (collector) collector.hit();
    else probed?.();
  });
  // subscribe() returns before the broker has the subscription: publish probes on the topic
  // until one comes back, so the publisher's first message cannot be lost to that race.
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => c.publish(cfg.topic, 'probe'), 20);
    const give = setTimeout(() => reject(new Error('subscription never became live')), 5000);
    probed = () => {
      clearInterval(timer);
      clearTimeout(give);
      resolve();
    };
  });
  // Let stray probes drain before counting starts.
  await new Promise((r) => setTimeout(r, 100));
  collector = new Collector(() => sub.dropped);
  send({ type: 'ready' });
}

async function publisher(): Promise<void> {
  const cfg = config<PubSubConfig>();
  const c = await connect({ site: 'bench', broker: cfg.broker, name: 'bench-pub' });
  onStop(() => c.close());
  const payload = payloadString(cfg.payloadBytes);
  servePublisher({
    publish: () => c.publish(cfg.topic, payload),
    flush: () => c.flush(),
    refused: () => c.publishDropped,
  });
  send({ type: 'ready' });
}

childMain(role() === 'sub' ? subscriber : publisher);
