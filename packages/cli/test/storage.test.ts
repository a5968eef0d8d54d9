import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { ControlClient, StorageBody, StorageDetailBody } from '@squadron/client';
import { Identity } from '@squadron/identity';
import { connect, type Client } from '@squadron/sdk';
import { squadron, startTestPlatform, waitFor, type TestPlatform } from '@squadron/testkit';

const NOTES = fileURLToPath(new URL('./fixtures/storage/notes/', import.meta.url));

/**
 * Storage, self-served, on a running platform: a squad creates a kv store and a two-site
 * PostgreSQL for its service with the CLI, its instances use them through ctx.storage(), a write
 * in one site is read in the other, and the database fails over on command without losing rows.
 */
describe('storage through the platform', () => {
  let platform: TestPlatform;
  let env: Record<string, string>;
  let api: ControlClient;
  let client: Client;
  let squadEnv: Record<string, string> = {};

  before(async () => {
    platform = await startTestPlatform('storage');
    ({ env, api } = platform);
    const { token } = await api.createSquad('writers');
    squadEnv = { ...env, SQUADRON_TOKEN: token! };
    await api.createService({ name: 'notes', squad: 'writers' });
    const key = Identity.newKey();
    const { credential } = await api.clientCredential(key.publicJwk, { site: 'sto', name: 'storage-test' });
    client = await connect({ site: 'sto', broker: (await api.sites()).sites[0]!.broker!.address, identity: new Identity(credential, key.privateKey) });
  });

  after(async () => {
    await client?.close();
    await platform?.stop();
  });

  it('creates kv and postgres storage with one command each, showing progress', async () => {
    const kv = await squadron(['storage', 'create', 'notes', '--kind', 'kv', '--service', 'notes', '--sites', 'sto,gcp-eu'], squadEnv, 60_000);
    assert.equal(kv.code, 0, kv.stderr);
    assert.match(kv.stderr, /notes: creating/);
    assert.match(kv.stdout, /storage notes \(kv\) is ready in sto, gcp-eu/);
    const pg = await squadron(['storage', 'create', 'ledger', '--kind', 'postgres', '--service', 'notes', '--sites', 'sto,gcp-eu', '--sync'], squadEnv, 90_000);
    assert.equal(pg.code, 0, pg.stderr);
    const shown = JSON.parse((await squadron(['storage', 'show', 'ledger', '--json'], squadEnv)).stdout) as StorageDetailBody;
    assert.deepEqual(shown.description?.sites.map((s) => [s.site, s.role, s.up]), [['sto', 'primary', true], ['gcp-eu', 'standby', true]]);
    const cache = await squadron(['storage', 'create', 'cache', '--kind', 'memcached', '--service', 'notes', '--sites', 'sto,gcp-eu'], squadEnv, 60_000);
    assert.equal(cache.code, 0, cache.stderr);
    // No cluster named: cassandra is refused with how to name one, and nothing is kept.
    const cassandra = await squadron(['storage', 'create', 'events', '--kind', 'cassandra', '--service', 'notes', '--sites', 'sto'], squadEnv);
    assert.equal(cassandra.code, 1);
    assert.match(cassandra.stderr, /^UNAVAILABLE: this platform provides no 'cassandra' storage: point the platform at a cluster \(CASSANDRA_CONTACT_POINTS/m);
    const list = JSON.parse((await squadron(['storage', 'list', '--json'], squadEnv)).stdout) as { storage: StorageBody[] };
    assert.deepEqual(list.storage.map((s) => [s.name, s.kind, s.status]), [['cache', 'memcached', 'ready'], ['ledger', 'postgres', 'ready'], ['notes', 'kv', 'ready']]);
  });

  it('gives the service\'s instances their storage: a kv write in sto is read in gcp-eu within a second', async () => {
    const deploy = await squadron(['deploy', 'notes', '--path', NOTES, '--sites', 'sto,gcp-eu'], squadEnv, 90_000);
    assert.equal(deploy.code, 0, deploy.stderr);
    await client.waitForInstances('notes', 2, 30_000);
    const put = await client.call<{ version: number; site: string }>('notes', 'put', { key: 'greeting', value: { text: 'hej' } }, { site: 'sto' });
    assert.equal(put.site, 'sto');
    const t0 = performance.now();
    const seen = await waitFor(async () => {
      const r = await client.call<{ entry: { value: unknown } | null; site: string }>('notes', 'get', { key: 'greeting' }, { site: 'gcp-eu' });
      assert.equal(r.site, 'gcp-eu');
      return r.entry;
    }, 'the write to reach gcp-eu', 5000, 20);
    const ms = performance.now() - t0;
    assert.deepEqual(seen.value, { text: 'hej' });
    assert.ok(ms < 1000, `read in gcp-eu ${ms.toFixed(0)} ms after the write in sto`);
    assert.deepEqual(await client.call('notes', 'remember', { key: 'k', value: 'v' }, { site: 'gcp-eu' }), { value: 'v', site: 'gcp-eu' }, 'memcached in the caller\'s site');
  });

  it('fails the database over on command: no committed row lost, the instances follow the new primary', async () => {
    assert.equal((await client.call<{ count: number }>('notes', 'record', { id: 'a' })).count, 1);
    const failover = await squadron(['storage', 'failover', 'ledger', '--to', 'gcp-eu'], squadEnv, 60_000);
    assert.equal(failover.code, 0, failover.stderr);
    assert.match(failover.stdout, /the primary is now in gcp-eu/);
    // The instances learn where the primary went within a couple of seconds; the row is there.
    const after = await waitFor(() => client.call<{ count: number }>('notes', 'record', { id: 'b' }).catch(() => null), 'a write after the failover', 20_000, 200);
    assert.equal(after.count, 2, 'the row written before the failover survived it');
    const shown = await api.storage('ledger');
    assert.equal(shown.primary, 'gcp-eu');
  });

  it('serves API apps over HTTP with a key of their own, within their quota, and no one else', async () => {
    const made = await squadron(['apps', 'create', 'mobile', '--storage', 'notes', '--max-keys', '2', '--json'], squadEnv);
    assert.equal(made.code, 0, made.stderr);
    const key = (JSON.parse(made.stdout) as { token: string }).token;
    const kv = (path: string, init: RequestInit = {}, token = key) => fetch(`${api.url}/v1/kv/${path}`, {
      ...init, headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    });
    const put = await kv('users/42', { method: 'PUT', body: JSON.stringify({ value: { name: 'ada' } }) });
    assert.equal(put.status, 200, await put.clone().text());
    assert.equal((await put.json() as { version: number }).version, 1);
    assert.deepEqual((await (await kv('users/42')).json() as { value: unknown }).value, { name: 'ada' });
    // Compare-and-set: a write at a stale version is refused with the current one.
    const stale = await kv('users/42', { method: 'PUT', body: JSON.stringify({ value: 'x', ifVersion: 7 }) });
    assert.equal(stale.status, 409);
    await kv('users/43', { method: 'PUT', body: JSON.stringify({ value: 2 }) });
    const over = await kv('users/44', { method: 'PUT', body: JSON.stringify({ value: 3 }) });
    assert.equal(over.status, 403);
    const error = (await over.json() as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'QUOTA_EXCEEDED');
    assert.match(error.message, /2/, error.message);
    const listed = await (await fetch(`${api.url}/v1/kv?prefix=users/`, { headers: { authorization: `Bearer ${key}` } })).json() as { items: Array<{ key: string }> };
    assert.deepEqual(listed.items.map((i) => i.key), ['users/42', 'users/43']);
    // The service's own keys are another namespace: the app does not see them.
    assert.equal((await kv('greeting')).status, 404);
    assert.equal((await kv('users/42', {}, 'sqk_not-a-key')).status, 401);
    assert.equal((await kv('users/42', {}, squadEnv.SQUADRON_TOKEN!)).status, 401, 'a squad token is no app key');
    assert.equal((await kv('users/42', { method: 'PUT', body: JSON.stringify({ value: 1, extra: true }) })).status, 400);
  });

  it('keeps credentials to the owner squad, and destroys what it made', async () => {
    const other = await api.createSquad('readers');
    const refused = await squadron(['storage', 'credentials', 'notes'], { ...env, SQUADRON_TOKEN: other.token! });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /FORBIDDEN: storage 'notes' belongs to squad 'writers'/);
    const creds = JSON.parse((await squadron(['storage', 'credentials', 'ledger', '--json'], squadEnv)).stdout) as { credentials: { database: string; password: string } };
    assert.ok(creds.credentials.database && creds.credentials.password, 'a database and a generated password');
    for (const name of ['notes', 'ledger', 'cache']) {
      const r = await squadron(['storage', 'destroy', name], squadEnv, 60_000);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual((await api.storageList()).storage, []);
  });
});
