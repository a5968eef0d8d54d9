// A Squadron site broker in a process of its own, as in production: it holds the registry and
// fans out pub/sub. Request-reply never passes through it. With `dataDir` it also keeps durable
// queues there (every enqueue fdatasync'ed before its ack, in group commits).
//   broker: { dataDir? } -> ready { address }; `describe` -> described (its counters)
import { Broker } from '@squadron/broker';
import { childMain, config, onMessage, onStop, send } from '../child.ts';

interface BrokerConfig {
  dataDir?: string;
}

/**
 * The durable log's fsync count, for the row's note (how many enqueues one fsync carried). Not
 * public API: read defensively, and left out if the broker's insides change shape.
 */
function logSyncs(broker: Broker): { syncs: number; appended: number } | null {
  const stats = (broker as unknown as { store?: { log?: { stats?: { syncs?: unknown; appended?: unknown } } } | null }).store?.log?.stats;
  return typeof stats?.syncs === 'number' && typeof stats.appended === 'number' ? { syncs: stats.syncs, appended: stats.appended } : null;
}

childMain(async () => {
  const cfg = config<BrokerConfig>();
  const broker = new Broker({ site: 'bench', sites: ['bench'], ...(cfg.dataDir ? { dataDir: cfg.dataDir } : {}) });
  const address = await broker.start();
  onStop(() => broker.stop());
  // Pub/sub drops are decided here (a subscriber too far behind), so the row asks for them.
  onMessage((msg) => {
    if (msg.type !== 'describe') return;
    const s = broker.stats();
    const subs = s.subscriptions.map((g) => `${g.topic}: delivered ${g.delivered}, dropped ${g.dropped}`).join('; ');
    const log = cfg.dataDir ? logSyncs(broker) : null;
    const syncs = log ? `log: ${log.appended} records in ${log.syncs} fdatasyncs` : '';
    send({ type: 'described', note: cfg.dataDir ? syncs : `broker: published ${s.published}; ${subs}` });
  });
  send({ type: 'ready', address });
});
