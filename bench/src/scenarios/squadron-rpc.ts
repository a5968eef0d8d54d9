// Squadron request-reply: an `echo` service instance and a client, each in its own process,
// meeting through the broker's registry and then talking directly (Unix socket when on the same
// host, unless the service was started TCP-only).
//   service: { broker, tcpOnly }                                  -> ready
//   client:  { broker, calls, warmup, inFlight, payloadBytes }    -> load
import { connect, defineService, runService } from '@squadron/sdk';
import { childMain, config, onStop, role, send } from '../child.ts';
import { payloadString, runLoad, type ClientConfig } from '../load.ts';

interface ServiceConfig {
  broker: string;
  tcpOnly: boolean;
}

interface SquadronClientConfig extends ClientConfig {
  broker: string;
}

async function service(): Promise<void> {
  const cfg = config<ServiceConfig>();
  const echo = defineService({ name: 'echo', methods: { echo: (req: unknown) => req } });
  const running = await runService(echo, { site: 'bench', broker: cfg.broker, ...(cfg.tcpOnly ? { socketDir: null } : {}) });
  onStop(() => running.stop());
  send({ type: 'ready', note: running.info.unixPath ? `unix ${running.info.unixPath}` : `tcp ${running.info.address}` });
}

async function client(): Promise<void> {
  const cfg = config<SquadronClientConfig>();
  const c = await connect({ site: 'bench', broker: cfg.broker });
  onStop(() => c.close());
  await c.waitForInstances('echo', 1);
  const info = c.instances('echo')[0];
  // Say which path the SDK will take, so a "unix" row that silently fell back to TCP shows.
  const via = info?.unixPath ? 'via unix socket' : 'via tcp';
  const payload = payloadString(cfg.payloadBytes);
  const result = await runLoad(() => c.call('echo', 'echo', payload), cfg, via);
  send({ type: 'load', result });
}

childMain(role() === 'service' ? service : client);
