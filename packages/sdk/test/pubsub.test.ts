import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runService, defineService, connect, type Client, type RunningService } from '@squadron/sdk';
import { startSites, silent, waitFor, type TestSites } from '@squadron/testkit';

type Seen = Map<string, number[]>;

function subscriber(name: string, topic: string, seen: Seen) {
  return defineService({
    name,
    subscriptions: {
      [topic]: (msg: { n: number }, ctx) => {
        const list = seen.get(ctx.instance) ?? [];
        list.push(msg.n);
        seen.set(ctx.instance, list);
      },
    },
  });
}

const total = (seen: Seen) => [...seen.values()].reduce((a, l) => a + l.length, 0);

describe('pub/sub', () => {
  let sites: TestSites;
  let publisher: Client;
  const running: RunningService[] = [];

  before(async () => {
    sites = await startSites(['sto', 'gcp-eu']);
    publisher = await connect({ site: 'sto', broker: sites.address('sto'), logger: silent });
  });

  after(async () => {
    await publisher.close();
    for (const r of running) await r.stop();
    await sites.stop();
  });

  async function run(def: ReturnType<typeof subscriber>, site: string): Promise<void> {
    const r = await runService(def, { site, broker: sites.address(site), logger: silent });
    running.push(r);
    await r.client.flush();
  }

  it('gives every subscription each message, and exactly one instance inside it', async () => {
    const audit: Seen = new Map();
    const mailer: Seen = new Map();
    await run(subscriber('audit', 'orders', audit), 'sto');
    await run(subscriber('audit', 'orders', audit), 'sto');
    await run(subscriber('mailer', 'orders', mailer), 'sto');
    const plain: number[] = [];
    const watcher = await connect({ site: 'sto', broker: sites.address('sto'), logger: silent });
    watcher.subscribe<{ n: number }>('orders', (m) => { plain.push(m.n); });
    await watcher.flush();

    for (let n = 0; n < 200; n++) publisher.publish('orders', { n });
    await waitFor(() => total(audit) === 200 && total(mailer) === 200 && plain.length === 200, 'every subscription to get 200');
    await publisher.flush();

    const auditAll = [...audit.values()].flat().sort((a, b) => a - b);
    assert.deepEqual(auditAll, Array.from({ length: 200 }, (_, i) => i), 'each message once across the group');
    assert.equal(audit.size, 2, 'both audit instances share the load');
    for (const list of audit.values()) assert.ok(list.length >= 50, `an audit instance got only ${list.length}`);
    await watcher.close();
  });

  it('reaches a subscription that lives only in another site, once', async () => {
    const remote: Seen = new Map();
    await run(subscriber('archiver', 'plays', remote), 'gcp-eu');
    await waitFor(() => sites.brokers.get('sto')!.stats().peers.every((p) => p.up), 'the site link');
    // The sto broker learns the gcp-eu group through its link; poll until a publish gets through.
    await waitFor(() => {
      publisher.publish('plays', { n: -1 });
      return total(remote) > 0;
    }, 'interest to reach sto', 5000, 50);
    for (let n = 0; n < 100; n++) publisher.publish('plays', { n });
    const real = () => [...remote.values()].flat().filter((n) => n >= 0);
    await waitFor(() => real().length >= 100, 'gcp-eu to get 100');
    await publisher.flush();
    assert.deepEqual(real().sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i), 'each message once');
    const [instance] = [...remote.keys()];
    assert.ok(running.find((r) => r.info.id === instance)?.info.site === 'gcp-eu');
  });

  it('drops and counts what a busy handler cannot take, holding no more than its queue', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let handled = 0;
    const slow = await connect({ site: 'sto', broker: sites.address('sto'), logger: silent });
    const sub = slow.subscribe('slow.topic', async () => { await gate; handled++; }, { concurrency: 1, maxQueued: 10 });
    await slow.flush();
    for (let n = 0; n < 500; n++) publisher.publish('slow.topic', { n });
    await waitFor(() => sub.received === 500, 'all 500 to arrive');
    assert.equal(sub.dropped, 500 - 1 - 10, 'one running, ten queued, the rest dropped');
    release();
    await waitFor(() => handled === 11, 'the running and queued messages to be handled');
    await slow.close();
  });

  it('delivers in the publisher\'s site when the group has members there', async () => {
    const seen: Seen = new Map();
    await run(subscriber('indexer', 'tracks', seen), 'gcp-eu');
    await run(subscriber('indexer', 'tracks', seen), 'sto');
    for (let n = 0; n < 50; n++) publisher.publish('tracks', { n });
    await waitFor(() => total(seen) === 50, '50 messages');
    const stoInstance = running.at(-1)!.info.id;
    assert.equal(seen.get(stoInstance)?.length, 50, 'all to the sto member, none forwarded');
  });
});
