import { Broker } from '@squadron/broker';
import { runService, defineService, connect } from '@squadron/sdk';
import pino from 'pino';
const log = pino({ level: 'warn' });
const b1 = new Broker({ site: 'sto', sites: ['sto', 'gcp-eu'], logger: log });
const b2 = new Broker({ site: 'gcp-eu', sites: ['sto', 'gcp-eu'], logger: log });
const a1 = await b1.start(); const a2 = await b2.start();
b1.setPeers({ 'gcp-eu': a2 }); b2.setPeers({ sto: a1 });
const def = defineService({ name: 'greeter', methods: { hello: async (req: { name: string }, ctx) => ({ text: `hello ${req.name}`, site: ctx.site }) },
  subscriptions: { 'user.created': async (m, ctx) => { console.log('got', m, ctx.site, ctx.instance); } } });
const s1 = await runService(def, { site: 'gcp-eu', broker: a2, logger: log });
const c = await connect({ site: 'sto', broker: a1 });
await c.waitForInstances('greeter', 1);
console.log(await c.call('greeter', 'hello', { name: 'ada' }));
c.publish('user.created', { id: 1 });
try { await c.call('greeter', 'nope', {}); } catch (e) { console.log((e as any).code, (e as Error).message); }
const t0 = performance.now(); let n = 0;
const N = 20000;
for (let i = 0; i < N; i++) { await c.call('greeter', 'hello', { name: 'x' }); n++; }
console.log('seq rps', (N / (performance.now() - t0) * 1000).toFixed(0));
const t1 = performance.now();
await Promise.all(Array.from({ length: 64 }, async () => { for (let i = 0; i < 1000; i++) await c.call('greeter', 'hello', { name: 'x' }); }));
console.log('64 rps', (64000 / (performance.now() - t1) * 1000).toFixed(0));
console.log(JSON.stringify(b1.stats().peers), b2.stats().subscriptions);
await s1.stop(); await c.close(); await b1.stop(); await b2.stop();
