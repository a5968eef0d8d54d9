import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runService, defineService, connect, type Client, type RunningService } from '@squadron/sdk';
import { startSites, silent, waitFor, type TestSites } from '@squadron/testkit';

describe('durable queues through the SDK', () => {
  const dir = mkdtempSync(join(tmpdir(), 'squadron-sdk-queues-'));
  let sites: TestSites;
  let client: Client;
  const running: RunningService[] = [];

  before(async () => {
    sites = await startSites(['sto'], { dataDir: dir });
    client = await connect({ site: 'sto', broker: sites.address('sto'), logger: silent });
  });

  after(async () => {
    await client.close();
    for (const r of running) await r.stop();
    await sites.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers an enqueued message to a service consumer, which acknowledges it by returning', async () => {
    const got: Array<{ msg: unknown; id: string; count: number; redelivered: boolean }> = [];
    running.push(await runService(defineService({
      name: 'exporter',
      consumers: { 'exports': async (msg, ctx) => { got.push({ msg, id: ctx.messageId, count: ctx.deliveryCount, redelivered: ctx.redelivered }); } },
    }), { site: 'sto', broker: sites.address('sto'), logger: silent }));
    const r = await client.enqueue('exports', { playlist: 'p1' }, { id: 'export-p1' });
    assert.deepEqual(r, { id: 'export-p1', duplicate: false });
    await waitFor(() => got.length === 1, 'the delivery');
    assert.deepEqual(got[0], { msg: { playlist: 'p1' }, id: 'export-p1', count: 1, redelivered: false });
    await waitFor(async () => (await client.session.query<{ queues: Array<{ queue: string; acked: number }> }>({ what: 'queues' })).queues.find((q) => q.queue === 'exports')?.acked === 1, 'the ack');
  });

  it('stores a repeated producer id once and says so', async () => {
    const a = await client.enqueue('dedup', 1, { id: 'same' });
    const b = await client.enqueue('dedup', 2, { id: 'same' });
    assert.equal(a.duplicate, false);
    assert.equal(b.duplicate, true);
    const { queues } = await client.session.query<{ queues: Array<{ queue: string; enqueued: number }> }>({ what: 'queues' });
    assert.equal(queues.find((q) => q.queue === 'dedup')?.enqueued, 1);
  });

  it('retries a failing handler with backoff, then dead-letters the message with its last error; replay delivers it again', async () => {
    let attempts = 0;
    let healthy = false;
    const consumer = client.consume('fragile', async (_msg, ctx) => {
      attempts++;
      if (!healthy) throw new Error(`attempt ${ctx.deliveryCount} failed`);
    }, { maxDeliveries: 3 });
    await client.enqueue('fragile', { n: 1 });
    const dlq = async () => client.session.query<Array<{ error: string; deliveries: number }>>({ what: 'dlq', queue: 'fragile' });
    const dead = await waitFor(async () => (await dlq())[0], 'the dead letter', 10_000, 20);
    assert.deepEqual([dead.deliveries, dead.error, attempts], [3, 'attempt 3 failed', 3]);
    healthy = true;
    assert.deepEqual(await client.session.query({ what: 'replay', queue: 'fragile' }), { revived: 1 });
    await waitFor(() => attempts === 4, 'the replayed delivery');
    assert.deepEqual(await dlq(), []);
    consumer.stop();
  });

  it('redelivers a message whose consumer never acknowledges it, after the visibility timeout', async () => {
    const seen: number[] = [];
    const stuck = client.consume('slow-acks', (_msg, ctx) => {
      seen.push(ctx.deliveryCount);
      return ctx.deliveryCount === 1 ? new Promise<void>(() => {}) : undefined; // the first one hangs
    }, { visibilityTimeoutMs: 100 });
    await client.enqueue('slow-acks', 'x');
    await waitFor(() => seen.length === 2, 'the redelivery');
    assert.deepEqual(seen, [1, 2]);
    stuck.stop();
  });

  it('keeps messages that share a key in order, one at a time, across several consumers', async () => {
    const order: string[] = [];
    let active = 0;
    let overlap = false;
    const handler = async (msg: unknown) => {
      const m = msg as { key: string; n: number };
      if (m.key === 'a' && active++ > 0) overlap = true;
      await new Promise((r) => setTimeout(r, 2));
      if (m.key === 'a') {
        order.push(`a${m.n}`);
        active--;
      }
    };
    const c1 = client.consume('ordered', handler, { concurrency: 4 });
    const c2 = client.consume('ordered', handler, { concurrency: 4 });
    for (let n = 0; n < 20; n++) await client.enqueue('ordered', { key: n % 2 ? 'b' : 'a', n }, { key: n % 2 ? 'b' : 'a' });
    await waitFor(() => order.length === 10, 'all of key a');
    assert.deepEqual(order, Array.from({ length: 10 }, (_, i) => `a${i * 2}`));
    assert.equal(overlap, false, 'two messages of one key were handled at once');
    c1.stop();
    c2.stop();
  });
});

describe('durable topics', () => {
  const dir = mkdtempSync(join(tmpdir(), 'squadron-durable-topics-'));
  let sites: TestSites;
  let client: Client;

  before(async () => {
    sites = await startSites(['sto'], { dataDir: dir });
    client = await connect({ site: 'sto', broker: sites.address('sto'), logger: silent });
  });

  after(async () => {
    await client.close();
    await sites.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps durable publishes for a subscriber that is away, and delivers them when it is back, at least once', async () => {
    const def = (got: number[]) => defineService({
      name: 'archive',
      subscriptions: { 'track.played': { durable: true, handler: async (msg: { n: number }, ctx) => { assert.equal(typeof ctx.messageId, 'string'); got.push(msg.n); } } },
    });
    const first: number[] = [];
    let archive = await runService(def(first), { site: 'sto', broker: sites.address('sto'), logger: silent });
    await client.publish('track.played', { n: 0 }, { durable: true });
    await waitFor(() => first.length === 1, 'the first delivery');
    await archive.stop(); // away

    const plain: unknown[] = [];
    client.subscribe('track.played', (m) => { plain.push(m); });
    await client.flush();
    for (let n = 1; n <= 5; n++) {
      const r = await client.publish('track.played', { n }, { durable: true, id: `play-${n}` });
      assert.deepEqual(r, { id: `play-${n}`, duplicate: false });
    }
    assert.deepEqual(await client.publish('track.played', { n: 5 }, { durable: true, id: 'play-5' }), { id: 'play-5', duplicate: true });
    await waitFor(() => plain.length === 5, 'plain subscribers to get the durable publishes too');


    client.publish('track.played', { n: 6 }); // a plain publish reaches the durable subscription too
    await client.flush();

    const second: number[] = [];
    archive = await runService(def(second), { site: 'sto', broker: sites.address('sto'), logger: silent });
    await waitFor(() => second.length === 6, 'the messages kept while it was away');
    assert.deepEqual(second.sort(), [1, 2, 3, 4, 5, 6]);
    await archive.stop();
  });
});
