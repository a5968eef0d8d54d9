// A Squadron site broker in a process of its own, as in production: it holds the registry and
// fans out pub/sub. Request-reply never passes through it.
//   broker: {} -> ready { address }
import { Broker } from '@squadron/broker';
import { childMain, onStop, send } from '../child.ts';

childMain(async () => {
  const broker = new Broker({ site: 'bench', sites: ['bench'] });
  const address = await broker.start();
  onStop(() => broker.stop());
  send({ type: 'ready', address });
});
