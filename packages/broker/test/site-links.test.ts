import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Broker } from '@squadron/broker';
import { runService, defineService, type RunningService } from '@squadron/sdk';
import { spawnBroker, silent, waitFor, type BrokerProcess } from '@squadron/testkit';

describe('links between site brokers', () => {
  let remote: BrokerProcess;
  let local: Broker;
  let instance: RunningService;

  after(async () => {
    remote?.child.kill('SIGCONT');
    await instance?.stop();
    await local?.stop();
    await remote?.kill();
  });

  it('drop a hung site\'s instances from the view within a few beats, and bring them back', async () => {
    remote = await spawnBroker('gcp-eu', ['--sites', 'sto,gcp-eu']);
    local = new Broker({ site: 'sto', sites: ['sto', 'gcp-eu'], logger: silent, heartbeatMs: 300 });
    await local.start();
    local.setPeers({ 'gcp-eu': remote.address });
    instance = await runService(defineService({ name: 'far', methods: { hi: () => 'hi' } }), { site: 'gcp-eu', broker: remote.address, logger: silent });
    const seen = () => local.registry.allInstances().some((i) => i.id === instance.info.id);
    await waitFor(seen, 'the gcp-eu instance in the sto view');

    remote.child.kill('SIGSTOP'); // hung: the connection stays open, nothing answers
    const stoppedAt = Date.now();
    await waitFor(() => !seen(), 'the hung site to leave the view', 5000, 20);
    assert.ok(Date.now() - stoppedAt < 2500, `took ${Date.now() - stoppedAt} ms`);
    assert.equal(local.stats().peers[0]!.up, false);

    remote.child.kill('SIGCONT');
    await waitFor(seen, 'the site to come back', 10_000, 50);
  });
});
