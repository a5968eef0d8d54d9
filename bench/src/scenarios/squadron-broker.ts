// A Squadron site broker in a process of its own, as in production: it holds the registry and
// fans out pub/sub. Request-reply never passes through it.
//   broker: {} -> ready { address }; `describe` -> described (its pub/sub counters)
import { Broker } from '@squadron/broker';
import { childMain, onMessage, onStop, send } from '../child.ts';

childMain(async () => {
  const broker = new Broker({ site: 'bench', sites: ['bench'] });
  const address = await broker.start();
  onStop(() => broker.stop());
  // Pub/sub drops are decided here (a subscriber too far behind), so the row asks for them.
  onMessage((msg) => {
    if (msg.type !== 'describe') return;
    const s = broker.stats();
    const subs = s.subscriptions.map((g) => `${g.topic}: delivered ${g.delivered}, dropped ${g.dropped}`).join('; ');
    send({ type: 'described', note: `broker: published ${s.published}; ${subs}` });
  });
  send({ type: 'ready', address });
});
