import assert from 'node:assert/strict';
import { MemcachedProvisioner } from '../src/index.ts';
import { conformance } from './conformance.ts';

// Real memcached processes from the machine's binary (.ci/run installs it when missing).
conformance('memcached', {
  provisioner: () => new MemcachedProvisioner({ memoryMb: 16 }),
  failover: 'refused',
  checkCredentials(credentials, spec) {
    const { servers } = credentials as { servers: Record<string, string[]> };
    assert.deepEqual(Object.keys(servers), spec.sites, 'servers of every site, in the site order');
    for (const site of spec.sites) {
      assert.equal(servers[site]?.length, 1, `one server in ${site} by default`);
      assert.match(servers[site]![0]!, /^127\.0\.0\.1:\d+$/);
    }
  },
});
