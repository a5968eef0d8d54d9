import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FrameKind, encode } from '@squadron/protocol';
import { Connection, connectHandshake, dial } from '@squadron/transport';
import { connect, type Client } from '@squadron/sdk';
import { queryBroker } from '@squadron/control';
import { spawnBroker, rssBytes, silent, waitFor, type BrokerProcess } from '@squadron/testkit';

describe('a subscriber that stops reading', () => {
  let broker: BrokerProcess;
  let publisher: Client;
  let stalled: Connection;

  before(async () => {
    broker = await spawnBroker('sto');
    publisher = await connect({ site: 'sto', broker: broker.address, logger: silent });
  });

  after(async () => {
    stalled?.destroy();
    await publisher.close();
    await broker.kill();
  });

  it('has its messages dropped and counted, and the broker\'s memory stays bounded', async () => {
    stalled = new Connection(await dial(broker.address));
    await connectHandshake(stalled, { role: 'client', site: 'sto', name: 'stalled' });
    stalled.send(FrameKind.Subscribe, 1, encode({ topic: 'firehose', group: 'stalled' }));
    stalled.flush();
    await waitFor(async () => (await queryBroker(broker.address)).subscriptions.some((s) => s.topic === 'firehose'), 'the subscription');
    stalled.socket.pause(); // never read again

    const rssBefore = rssBytes(broker.child.pid!);
    const body = { blob: 'x'.repeat(1024) };
    const sent = 100_000; // ~100 MB through a subscriber that reads nothing
    for (let i = 0; i < sent; i++) {
      publisher.publish('firehose', body);
      if (i % 500 === 0) await publisher.flush();
    }
    await publisher.flush();

    const stats = await queryBroker(broker.address);
    const sub = stats.subscriptions.find((s) => s.topic === 'firehose')!;
    const rssAfter = rssBytes(broker.child.pid!);
    assert.ok(sub.dropped > sent / 2, `only ${sub.dropped} of ${sent} dropped`);
    assert.equal(sub.delivered + sub.dropped, sent);
    assert.ok(rssAfter - rssBefore < 64 * 1024 * 1024, `broker grew by ${((rssAfter - rssBefore) / 1048576).toFixed(1)} MB`);
  });
});
