import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameKind, encode, durableQueueName } from '@squadron/protocol';
import { connect, type Client } from '@squadron/sdk';
import { startSites, silent, waitFor, type TestSites } from '@squadron/testkit';
import { POISONS, RawCaller, RawSender, startFakeInstance, startTarget, type TargetProcess, type TargetStats } from './poison-harness.ts';

// A hostile squad's payload that no one can decode (nested 100,000 deep, or not msgpack at all)
// must fail that one message and nothing else: the receiving instance keeps its connections,
// gets the good messages after it, counts the bad one, and a queue dead-letters it.
describe('a payload that cannot be decoded fails its own message, never a connection', () => {
  const dir = mkdtempSync(join(tmpdir(), 'squadron-poison-'));
  const poisons = Object.values(POISONS);
  let sites: TestSites;
  let target: TargetProcess;
  let attacker: Client;
  let observer: Client;
  let raw: RawSender;

  const stats = () => observer.call<TargetStats>('target', 'stats');
  const deadLetters = (queue: string) => observer.session.query<Array<{ error: string }>>({ what: 'dlq', queue });

  before(async () => {
    sites = await startSites(['sto'], { dataDir: dir });
    target = await startTarget(sites.address('sto'));
    attacker = await connect({ site: 'sto', broker: sites.address('sto'), name: 'attacker', logger: silent });
    observer = await connect({ site: 'sto', broker: sites.address('sto'), name: 'observer', logger: silent });
    await observer.waitForInstances('target');
    raw = new RawSender(attacker);
  });

  after(async () => {
    await attacker.close();
    await observer.close();
    await target.kill();
    await sites.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a plain publish: the subscriber stays on its connection, counts the bad ones and gets the good one', async () => {
    for (const p of poisons) raw.publish('poison.events', p);
    attacker.publish('poison.events', { good: 1 });
    await waitFor(async () => (await stats()).received.events.length > 0, 'the good message at the subscriber');
    const s = await stats();
    assert.deepEqual(s.received.events, [{ good: 1 }]);
    assert.equal(s.client.undecodable.message, poisons.length);
    assert.equal(s.client.brokerConnects, 1, 'the subscriber never lost its broker connection');
  });

  it('a queue message: the consumer stays on its connection, dead-letters the bad ones and gets the good one', async () => {
    for (const p of poisons) await raw.enqueue('poison.jobs', p);
    await attacker.enqueue('poison.jobs', { good: 2 });
    await waitFor(async () => (await stats()).received.jobs.length > 0, 'the good job at the consumer');
    const dead = await waitFor(async () => {
      const d = await deadLetters('poison.jobs');
      return d.length === poisons.length ? d : null;
    }, 'every poison job dead-lettered', 10_000);
    for (const d of dead) assert.match(d.error, /cannot be decoded/);
    const s = await stats();
    assert.deepEqual(s.received.jobs, [{ good: 2 }]);
    assert.equal(s.client.undecodable.delivery, poisons.length * 2, 'each of the two deliveries (maxDeliveries) counted');
    assert.equal(s.client.brokerConnects, 1);
  });

  it('a durable publish: the durable subscriber stays on its connection, dead-letters the bad ones and gets the good one', async () => {
    for (const p of poisons) await raw.publishDurable('poison.durable', p);
    await attacker.publish('poison.durable', { good: 3 }, { durable: true });
    await waitFor(async () => (await stats()).received.durable.length > 0, 'the good durable message');
    const queue = durableQueueName('poison.durable', 'target');
    await waitFor(async () => (await deadLetters(queue)).length === poisons.length, 'every poison message dead-lettered', 10_000);
    const s = await stats();
    assert.deepEqual(s.received.durable, [{ good: 3 }]);
    assert.equal(s.client.brokerConnects, 1);
  });

  it('a request: BAD_REQUEST for each bad one on the same connection, and the instance serves the next', async () => {
    const caller = await RawCaller.open(target.info.address);
    try {
      for (const p of poisons) {
        const answer = await caller.request('echo', p);
        assert.equal(answer.kind, FrameKind.ErrorReply);
        const [code, message] = answer.value as [string, string];
        assert.equal(code, 'BAD_REQUEST');
        assert.match(message, /cannot decode this request/);
      }
      const good = await caller.request('echo', encode({ good: 4 }));
      assert.deepEqual([good.kind, good.value], [FrameKind.Reply, { req: { good: 4 } }]);
      assert.equal(caller.conn.closed, false);
    } finally {
      caller.close();
    }
    assert.deepEqual(await observer.call('target', 'echo', { good: 5 }), { req: { good: 5 } });
    const s = await stats();
    assert.equal(s.client.undecodable.request, poisons.length);
  });

  it('a reply: that call fails with BAD_REQUEST, the channel to the callee stays, and the next call succeeds', async () => {
    const fake = await startFakeInstance(sites.address('sto'), 'sto', 'mimic');
    try {
      await observer.waitForInstances('mimic');
      const before = observer.stats().undecodable.reply;
      const pending = observer.call('mimic', 'answer', { early: true });
      for (const p of poisons) {
        await assert.rejects(observer.call('mimic', 'answer', p), (err: Error & { code?: string }) => err.code === 'BAD_REQUEST' && /cannot be decoded/.test(err.message));
      }
      assert.deepEqual(await pending, { ok: { early: true } });
      assert.deepEqual(await observer.call('mimic', 'answer', { good: 6 }), { ok: { good: 6 } });
      assert.equal(fake.connections, 1, 'one connection from the caller to the callee throughout');
      assert.equal(observer.stats().undecodable.reply - before, poisons.length);
    } finally {
      await fake.close();
    }
  });
});
