import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encode, decode } from '@squadron/protocol';
import { silent, waitFor } from '@squadron/testkit';
import { QueueStore } from '../src/durable/queue-store.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/enqueue-until-killed.ts', import.meta.url));

async function drain(store: QueueStore, queue: string, ack = true): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let t = await store.take(queue); t !== null; t = await store.take(queue)) {
    out.push(decode(t.payload));
    if (ack) store.ack(queue, t.seq);
  }
  return out;
}

describe('queue store', () => {
  let dir: string;
  const open = () => QueueStore.open({ dir, logger: silent });
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'squadron-queues-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('delivers what was enqueued, in order; after a restart, what was not acknowledged comes again', async () => {
    const store = await open();
    for (let n = 0; n < 10; n++) await store.enqueue('jobs', encode({ n }));
    const first = await store.take('jobs');
    assert.deepEqual(decode(first!.payload), { n: 0 });
    store.ack('jobs', first!.seq);
    const second = await store.take('jobs'); // taken, never acknowledged
    assert.deepEqual(decode(second!.payload), { n: 1 });
    await store.close();

    const again = await open();
    assert.deepEqual(await drain(again, 'jobs'), Array.from({ length: 9 }, (_, i) => ({ n: i + 1 })));
    await again.close();
  });

  it('stores a producer id once within the window, also across a restart', async () => {
    const store = await open();
    const a = await store.enqueue('mail', encode('hi'), { id: 'order-7' });
    const b = await store.enqueue('mail', encode('hi'), { id: 'order-7' });
    assert.deepEqual([a.duplicate, b.duplicate, b.seq], [false, true, a.seq]);
    await store.close();
    const again = await open();
    assert.equal((await again.enqueue('mail', encode('hi'), { id: 'order-7' })).duplicate, true);
    assert.equal((await drain(again, 'mail')).length, 1);
    await again.close();
  });

  it('retries a failed delivery after its backoff, then dead-letters it with its last error; replay brings it back', async () => {
    const store = await open();
    await store.enqueue('poison', encode('bad'));
    for (let attempt = 1; attempt <= 3; attempt++) {
      const t = await waitFor(() => store.take('poison'), `delivery ${attempt}`, 2000, 5);
      assert.equal(t.deliveries, attempt);
      const outcome = await store.fail('poison', t.seq, `boom ${attempt}`, 3, 20);
      assert.equal(outcome, attempt < 3 ? 'retry' : 'dead');
    }
    assert.equal(await store.take('poison'), null);
    assert.deepEqual((await store.deadLetters('poison')).map((e) => e.error), ['boom 3']);
    await store.close();

    const again = await open();
    assert.equal(await again.take('poison'), null, 'still dead after a restart');
    assert.equal(again.stats()[0]!.dead, 1);
    assert.equal(await again.revive('poison'), 1);
    const back = await again.take('poison');
    assert.equal(back?.deliveries, 1);
    await again.close();
  });

  it('delivers messages that share a key one at a time, in order', async () => {
    const store = await open();
    for (const [key, v] of [['a', 'a1'], ['a', 'a2'], ['b', 'b1'], ['a', 'a3']] as const) await store.enqueue('keyed', encode(v), { key });
    const t1 = await store.take('keyed');
    const t2 = await store.take('keyed');
    assert.deepEqual([decode(t1!.payload), decode(t2!.payload)], ['a1', 'b1']);
    assert.equal(await store.take('keyed'), null, 'a2 waits for a1');
    await store.fail('keyed', t1!.seq, 'later', 5, 0);
    const retry = await store.take('keyed');
    assert.equal(decode(retry!.payload), 'a1', 'a failed a1 goes before a2');
    store.ack('keyed', retry!.seq);
    assert.deepEqual(await drain(store, 'keyed'), ['a2', 'a3']);
    await store.close();
  });

  it('holds a delayed message until it is due', async () => {
    const store = await open();
    await store.enqueue('later', encode('x'), { delayMs: 150 });
    assert.equal(await store.take('later'), null);
    await waitFor(() => store.take('later'), 'the delayed message', 2000, 10);
    await store.close();
  });

  it('deletes settled segments, keeping those with unsettled messages and carrying durable subscriptions forward', async () => {
    const store = await QueueStore.open({ dir, logger: silent, segmentBytes: 2048, dedupWindowMs: 0, compactEveryMs: 0 });
    await store.subscribeDurable('news', 'archive');
    for (let n = 0; n < 200; n++) await store.enqueue('jobs', encode({ n, pad: 'x'.repeat(40) }));
    await store.enqueue('stuck', encode('held'));
    for (let n = 0; n < 200; n++) await store.enqueue('jobs', encode({ n: 200 + n, pad: 'x'.repeat(40) }));
    const segments = () => readdirSync(dir).filter((f) => f.endsWith('.log')).length;
    const before = segments();
    assert.ok(before > 10, `${before} segments`);
    const first = await drain(store, 'jobs');
    assert.equal(first.length, 400);
    const removed = await store.compact();
    assert.ok(removed > 0 && removed < before, `removed ${removed} of ${before}`);
    assert.ok(segments() < before);
    await store.close();

    const again = await QueueStore.open({ dir, logger: silent, segmentBytes: 2048, dedupWindowMs: 0, compactEveryMs: 0 });
    assert.deepEqual(again.durableGroups('news'), ['archive'], 'the durable subscription survived');
    assert.deepEqual(await drain(again, 'stuck'), ['held'], 'the unsettled message kept its segment');
    assert.deepEqual(await drain(again, 'jobs'), [], 'nothing acknowledged came back');
    await again.close();
  });

  for (const mode of ['SIGKILL', 'power loss'] as const) {
    it(`loses no acknowledged enqueue when the process dies (${mode}, 3 times)`, async () => {
      const acked = new Set<number>();
      let next = 0;
      for (let round = 0; round < 3; round++) {
        const child = fork(FIXTURE, [dir, String(next), mode === 'power loss' ? '1' : '0'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
        const before = acked.size;
        let exited: number | null = null;
        child.on('exit', (code) => (exited = code ?? -1));
        child.on('message', (m: unknown) => { if (Array.isArray(m)) for (const n of m as number[]) acked.add(n); });
        await waitFor(() => {
          if (exited !== null) throw new Error(`the producer exited (${exited}) in round ${round}`);
          return acked.size > before + 300;
        }, 'acknowledged enqueues', 20_000);
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        });
        next = Math.max(...acked) + 1000;
      }
      const store = await QueueStore.open({ dir, logger: silent, simulatePowerLoss: mode === 'power loss' });
      const stored = new Set((await drain(store, 'crash')).map((m) => (m as { n: number }).n));
      const lost = [...acked].filter((n) => !stored.has(n));
      assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged messages lost`);
      await store.close();
    });
  }
});
