// Moleculer request-reply over its TCP transporter (no UDP discovery): two nodes with fixed ids
// and ports that the parent picked free, each knowing the other from `urls`.
//   server: { serverPort, clientPort }                                         -> ready
//   client: { serverPort, clientPort, calls, warmup, inFlight, payloadBytes }  -> load
import { ServiceBroker, type BrokerOptions } from 'moleculer';
import { childMain, config, onStop, role, send } from '../child.ts';
import { payloadString, runLoad, type ClientConfig } from '../load.ts';

interface MoleculerConfig {
  serverPort: number;
  clientPort: number;
}

function brokerOptions(cfg: MoleculerConfig, nodeID: string): BrokerOptions {
  return {
    nodeID,
    logger: false,
    transporter: {
      type: 'TCP',
      options: {
        udpDiscovery: false,
        // A node finds its own port in this list by its id.
        urls: [`127.0.0.1:${cfg.serverPort}/bench-server`, `127.0.0.1:${cfg.clientPort}/bench-client`],
      },
    },
  };
}

async function server(): Promise<void> {
  const cfg = config<MoleculerConfig>();
  const broker = new ServiceBroker(brokerOptions(cfg, 'bench-server'));
  broker.createService({
    name: 'echo',
    actions: { echo: (ctx) => ctx.params },
  });
  await broker.start();
  onStop(() => broker.stop());
  send({ type: 'ready' });
}

async function client(): Promise<void> {
  const cfg = config<MoleculerConfig & ClientConfig>();
  const broker = new ServiceBroker(brokerOptions(cfg, 'bench-client'));
  await broker.start();
  onStop(() => broker.stop());
  await broker.waitForServices(['echo'], 10_000);
  const payload = payloadString(cfg.payloadBytes);
  const result = await runLoad(() => broker.call('echo.echo', payload), cfg);
  send({ type: 'load', result });
}

childMain(role() === 'server' ? server : client);
