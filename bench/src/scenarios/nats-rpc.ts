// nats.js request-reply through the machine's nats-server (127.0.0.1:4222): the responder
// subscribes and answers with msg.respond, the requester uses nc.request (one muxed inbox).
//   server: { url, subject }                                           -> ready
//   client: { url, subject, calls, warmup, inFlight, payloadBytes }    -> load
import { connect } from 'nats';
import { childMain, config, onStop, role, send } from '../child.ts';
import { payloadString, runLoad, type ClientConfig } from '../load.ts';

interface NatsConfig {
  url: string;
  /** Unique per run: the server is shared with whatever else uses this machine's nats. */
  subject: string;
}

async function server(): Promise<void> {
  const cfg = config<NatsConfig>();
  const nc = await connect({ servers: cfg.url, name: 'bench-echo' });
  onStop(() => nc.close());
  nc.subscribe(cfg.subject, {
    callback: (err, msg) => {
      if (!err) msg.respond(msg.data);
    },
  });
  // The server has the subscription once it answers our PING: requests cannot race it.
  await nc.flush();
  send({ type: 'ready' });
}

async function client(): Promise<void> {
  const cfg = config<NatsConfig & ClientConfig>();
  const nc = await connect({ servers: cfg.url, name: 'bench-requester' });
  onStop(() => nc.close());
  const payload = new TextEncoder().encode(payloadString(cfg.payloadBytes));
  const opts = { timeout: 5000 };
  const result = await runLoad(() => nc.request(cfg.subject, payload, opts), cfg);
  send({ type: 'load', result });
}

childMain(role() === 'server' ? server : client);
