import assert from 'node:assert/strict';
import { KvProvisioner } from '../src/index.ts';
import { conformance } from './conformance.ts';

// Real kv server processes, one per site, each on its own SQLite file.
conformance('kv', {
  provisioner: () => new KvProvisioner(),
  failover: 'refused',
  checkCredentials(credentials, spec) {
    const { kind, endpoints, secret } = credentials as { kind: string; endpoints: Record<string, string>; secret: string };
    assert.equal(kind, 'kv');
    assert.deepEqual(Object.keys(endpoints), spec.sites, 'a server for every site, in the site order');
    for (const url of Object.values(endpoints)) assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(secret.length >= 32, 'a secret of 24 random bytes');
  },
  async answers(credentials) {
    const { endpoints, secret } = credentials as { endpoints: Record<string, string>; secret: string };
    const answered = await Promise.all(Object.values(endpoints).map(async (url) => {
      try {
        const res = await fetch(`${url}/stats`, { headers: { authorization: `Bearer ${secret}` }, signal: AbortSignal.timeout(1000) });
        return res.ok;
      } catch {
        return false;
      }
    }));
    if (answered.every(Boolean)) return true;
    assert.ok(!answered.some(Boolean), `some sites answer and others do not: ${answered.join(', ')}`);
    return false;
  },
});
