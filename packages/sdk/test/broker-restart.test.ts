import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { runService, defineService, connect, type Client, type RunningService } from '@squadron/sdk';
import { queryBroker } from '@squadron/control';
import { spawnBroker, silent, waitFor, type BrokerProcess } from '@squadron/testkit';

describe('a broker that crashes and comes back', () => {
  let broker: BrokerProcess;
  let instance: RunningService;
  let client: Client;

  after(async () => {
    await client?.close();
    await instance?.stop();
    await broker?.kill();
  });

  it('does not interrupt calls, and gets its registry back from the instances', async () => {
    broker = await spawnBroker('sto');
    const address = broker.address;
    instance = await runService(defineService({ name: 'clock', methods: { now: () => Date.now() } }), { site: 'sto', broker: address, logger: silent });
    client = await connect({ site: 'sto', broker: address, logger: silent });
    await client.waitForInstances('clock');
    await client.call('clock', 'now');

    await broker.kill('SIGKILL');
    // Calls go straight to the instance: the broker's absence changes nothing for them.
    for (let i = 0; i < 20; i++) assert.equal(typeof (await client.call('clock', 'now')), 'number');

    broker = await spawnBroker('sto', ['--listen', address]);
    await waitFor(async () => (await queryBroker(address)).instances.some((i) => i.id === instance.info.id), 'the instance to register again', 10_000, 50);
    await waitFor(async () => (await queryBroker(address)).connections >= 2, 'the client to reconnect', 10_000, 50);
    assert.deepEqual(client.instances('clock').map((i) => i.id), [instance.info.id]);
    assert.equal(typeof (await client.call('clock', 'now')), 'number');
  });
});
