import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Client } from '@squadron/sdk';
import { startSites, silent, spawnInstance, waitFor, WORKER_DIR, type TestSites, type InstanceProcess } from '@squadron/testkit';

describe('locality and failover', () => {
  let sites: TestSites;
  let client: Client;
  const procs: InstanceProcess[] = [];

  before(async () => {
    sites = await startSites(['sto', 'gcp-eu']);
    const spawned = await Promise.all([
      spawnInstance(WORKER_DIR, 'sto', sites.address('sto')),
      spawnInstance(WORKER_DIR, 'sto', sites.address('sto')),
      spawnInstance(WORKER_DIR, 'gcp-eu', sites.address('gcp-eu')),
      spawnInstance(WORKER_DIR, 'gcp-eu', sites.address('gcp-eu')),
    ]);
    procs.push(...spawned);
    client = await connect({ site: 'sto', broker: sites.address('sto'), logger: silent });
    await client.waitForInstances('worker', 4);
  });

  after(async () => {
    await client.close();
    await Promise.all(procs.map((p) => p.kill()));
    await sites.stop();
  });

  it('prefers the caller\'s own site', async () => {
    for (let i = 0; i < 50; i++) {
      const r = await client.call<{ site: string }>('worker', 'echo', i);
      assert.equal(r.site, 'sto');
    }
  });

  it('keeps every idempotent call succeeding through gcp-eu when all sto instances are killed under load', async () => {
    const failures: unknown[] = [];
    const sitesSeen: string[] = [];
    let stop = false;
    let calls = 0;
    const load = Promise.all(Array.from({ length: 16 }, async () => {
      while (!stop) {
        try {
          const r = await client.call<{ site: string }>('worker', 'echo', calls++, { timeoutMs: 3000 });
          sitesSeen.push(r.site);
        } catch (err) {
          failures.push(err);
        }
      }
    }));
    await waitFor(() => calls > 500, 'load to build up');
    const killedAt = Date.now();
    const sto = procs.filter((p) => p.info.site === 'sto');
    await Promise.all(sto.map((p) => p.kill('SIGKILL')));
    const gone = await waitFor(() => (client.instances('worker').every((i) => i.site !== 'sto') ? Date.now() : 0), 'sto instances to leave the view', 3000, 5);
    const countAtKill = calls;
    await waitFor(() => calls > countAtKill + 1000, 'calls after the kill');
    stop = true;
    await load;
    assert.deepEqual(failures, [], `${failures.length} calls failed`);
    assert.equal(sitesSeen.at(-1), 'gcp-eu');
    assert.ok(gone - killedAt < 1000, `crashed instances left the caller's view after ${gone - killedAt} ms`);
  });
});
