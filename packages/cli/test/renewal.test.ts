import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ControlClient } from '@squadron/client';
import { connect, type Client } from '@squadron/sdk';
import { startTestPlatform, type TestPlatform } from '@squadron/testkit';

const FIXTURES = fileURLToPath(new URL('./fixtures/access/', import.meta.url));
const TTL_S = 4;
/** Verifiers allow 5 s of clock skew: a connection still on its first credential is cut at TTL + 5 s. */
const CUT_AT_MS = (TTL_S + 5) * 1000;

/**
 * Credentials that expire every few seconds: agents, brokers and clients renew theirs at two
 * thirds of their life and prove the new one on their open connections, so that traffic goes on
 * untouched well past the time the first credentials expired.
 */
describe('credential renewal on a running platform', () => {
  let platform: TestPlatform;
  let api: ControlClient;
  let client: Client;

  before(async () => {
    // Info: the brokers log each connection they close for an expired credential.
    platform = await startTestPlatform('renewal', { config: `sites:\n  - name: sto\n    kind: datacenter\ncredentialTtlSeconds: ${TTL_S}\n`, logLevel: 'info' });
    const { url, adminToken: token } = platform;
    api = platform.api;
    await api.createSquad('bank');
    await api.createSquad('tools');
    await api.createService({ name: 'vault', squad: 'bank' });
    await api.createService({ name: 'relay', squad: 'tools' });
    for (const name of ['vault', 'relay']) await api.deploy(name, { path: join(FIXTURES, name), sites: ['sto'], instances: 1 });
    // As a script would: a client credential asked of the platform with the token, renewed by the SDK.
    process.env.SQUADRON_TOKEN = token;
    client = await connect({ site: 'sto', url, name: 'renewal-test' });
    await client.waitForInstances('vault', 1, 30_000);
    await client.waitForInstances('relay', 1, 30_000);
  });

  after(async () => {
    delete process.env.SQUADRON_TOKEN;
    await client?.close();
    await platform?.stop();
  });

  it(`keeps every call working past the first credentials' expiry (${TTL_S} s), with no reconnection and no restart`, async () => {
    const { instances: before } = await api.instances('vault');
    const t0 = Date.now();
    let calls = 0;
    const failures: string[] = [];
    // Past the cut-off of a connection that was never renewed, and through several renewals.
    while (Date.now() - t0 < CUT_AT_MS + 3000) {
      const [direct, relayed] = await Promise.allSettled([
        client.call('vault', 'read', null, { timeoutMs: 2000 }),
        client.call<Record<string, number>>('relay', 'call', { service: 'vault', method: 'read' }, { timeoutMs: 2000 }),
      ]);
      calls += 2;
      if (direct.status === 'rejected') failures.push(`direct at ${Date.now() - t0} ms: ${String(direct.reason)}`);
      if (relayed.status === 'rejected') failures.push(`via relay at ${Date.now() - t0} ms: ${String(relayed.reason)}`);
      else if (relayed.value.ok !== 1) failures.push(`relay's call at ${Date.now() - t0} ms: ${JSON.stringify(relayed.value)}`);
      await new Promise((r) => setTimeout(r, 40));
    }
    assert.deepEqual(failures, [], `${failures.length} of ${calls} calls failed`);
    assert.ok(calls > 100, `${calls} calls`);
    const { instances: after } = await api.instances('vault');
    assert.deepEqual(after.map((i) => [i.id, i.pid, i.restarts]), before.map((i) => [i.id, i.pid, i.restarts]), 'the instance was neither restarted nor replaced');
    // No broker closed a connection for an expired credential: everyone proved the renewed one.
    const logs = join(platform.dataDir, 'logs');
    const brokerLogs = readdirSync(logs).filter((f) => f.startsWith('broker')).map((f) => readFileSync(join(logs, f), 'utf8')).join('');
    assert.match(brokerLogs, /"msg":"broker ready|listening|instance up/, 'the broker logs are where this test looks');
    assert.doesNotMatch(brokerLogs, /whose credential is no longer valid/);
  });
});
