import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { StatusBody } from '@squadron/client';
import { Identity } from '@squadron/identity';
import { connect, type Client } from '@squadron/sdk';
import { squadron, startTestPlatform, waitFor, WORKER_DIR, type TestPlatform } from '@squadron/testkit';

/** `squadron status` on a running platform: what subscribers drop, and services with no instance. */
describe('squadron status', () => {
  let platform: TestPlatform;
  let broker = '';
  const clients: Client[] = [];

  const status = async (...args: string[]): Promise<StatusBody> => {
    const r = await squadron(['status', ...args, '--json'], platform.env);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as StatusBody;
  };

  /** A connect() client with a credential of its own, named `name`. */
  const client = async (name: string): Promise<Client> => {
    const key = Identity.newKey();
    const { credential } = await platform.api.clientCredential(key.publicJwk, { site: 'sto', name });
    const c = await connect({ site: 'sto', broker, identity: new Identity(credential, key.privateKey), name });
    clients.push(c);
    return c;
  };

  before(async () => {
    platform = await startTestPlatform('status', { config: 'sites:\n  - name: sto\n    kind: datacenter\n' });
    broker = (await platform.api.sites()).sites[0]!.broker!.address;
  });

  after(async () => {
    for (const c of clients) await c.close();
    await platform?.stop();
  });

  it('shows what a connect() subscriber dropped when its handler fell behind, as JSON too', async () => {
    const slow = await client('slow-reader');
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    // One message at a time, ten waiting: the rest of a flood of 200 cannot be held.
    const sub = slow.subscribe('status.flood', () => gate, { concurrency: 1, maxQueued: 10 });
    await sub.ready;
    const publisher = await client('flooder');
    for (let n = 0; n < 200; n++) publisher.publish('status.flood', { n });
    await publisher.flush();
    await waitFor(() => sub.received === 200, 'the subscriber to receive the flood', 10_000);
    assert.equal(sub.dropped, 189, 'one running, ten queued, the rest dropped');

    const row = await waitFor(async () => (await status()).sites[0]!.brokerStatus.subscriberDrops?.find((d) => d.subscriber === 'slow-reader'),
      'status --json to show the subscriber\'s drops', 10_000, 200);
    assert.deepEqual(row, { subscriber: 'slow-reader', topic: 'status.flood', group: sub.group, dropped: 189 });
    const text = await squadron(['status'], platform.env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /DROPPED BY SUBSCRIBERS[^\n]*\nSITE\s+SUBSCRIBER\s+TOPIC\s+GROUP\s+DROPPED\nsto\s+slow-reader\s+status\.flood\s+_sub\.\S+\s+189\n/);

    // It outlives the subscriber, as the broker's own counters do.
    release();
    sub.unsubscribe();
    await slow.close();
    const after = (await status()).sites[0]!.brokerStatus.subscriberDrops?.filter((d) => d.subscriber === 'slow-reader');
    assert.deepEqual(after?.map((d) => d.dropped), [189]);
  });

  it('shows a service with no instances, created or undeployed, with none', async () => {
    await platform.api.createSquad('quiet');
    await platform.api.createService({ name: 'idle', squad: 'quiet' });
    const created = await squadron(['status', 'idle'], platform.env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^idle has no live instances; deploy it: squadron deploy idle --path DIR --sites SITE$/m);
    assert.deepEqual((await status('idle')).services, [{ name: 'idle', instances: [] }]);

    await platform.api.createService({ name: 'worker', squad: 'quiet' });
    await platform.api.deploy('worker', { path: WORKER_DIR, sites: ['sto'], instances: 1 });
    await waitFor(async () => (await status('worker')).services[0]!.instances.length === 1, 'worker to run', 30_000, 200);
    await platform.api.undeploy('worker');
    await waitFor(async () => (await status('worker')).services[0]!.instances.length === 0, 'worker to be undeployed', 30_000, 200);
    assert.deepEqual((await status('worker')).services, [{ name: 'worker', instances: [] }]);
    assert.match((await squadron(['status', 'worker'], platform.env)).stdout, /^worker has no live instances/m);

    const unknown = await squadron(['status', 'nobody'], platform.env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^NOT_FOUND: no service 'nobody'; 'squadron services list' shows them/);
  });
});
