import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AuditBody, CreatedAppBody, CreatedSquadBody, StorageBody, StorageCredentialsBody } from '@squadron/client';
import { buildControlServer, openStateStore, Sites, validateConfig, type Db, type PlatformConfig } from '@squadron/control';
import { KvProvisioner, openStorageClient, type KvClient, type KvEndpoints } from '@squadron/storage';
import { silent, waitFor } from '@squadron/testkit';
import { TEST_CONFIG } from './harness.ts';

/**
 * No two owners share a kv namespace, whatever their names: an API app `foo` and a service
 * `app-foo` both got `app-foo`, so the app read and overwrote the service's keys. End to end,
 * with real kv server processes behind a control plane over HTTP; and a store written in the old
 * layout is moved at the control plane's next start, the keys of the colliding pair staying the
 * service's.
 */
describe('kv namespaces: an app cannot reach a service\'s keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'squadron-kv-namespaces-'));
  const adminToken = 'sqa_test-admin-token';
  let db: Db;
  let app: FastifyInstance;
  let url = '';
  let squad: CreatedSquadBody;
  const keys: Record<string, string> = {};

  /** A control plane on the same state file and storage directory each time, as a restart sees them. */
  const start = async () => {
    db = await openStateStore(join(dir, 'state.db'));
    app = await buildControlServer({
      sites: new Sites(validateConfig(TEST_CONFIG) as PlatformConfig), db, adminToken, logger: silent,
      storage: { dir: join(dir, 'storage'), provisioners: () => ({ kv: new KvProvisioner() }) },
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  };
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const credentials = async () => ((await call('GET', '/v1/storage/vault/credentials', squad.token)).body as StorageCredentialsBody).credentials as unknown as KvEndpoints;
  /** What an instance of the service gets from ctx.storage('vault'). */
  const serviceClient = async () => {
    const creds = await credentials();
    return (await openStorageClient('kv', { credentials: () => creds as unknown as Record<string, unknown>, site: 'sto', service: 'app-foo', name: 'vault' })) as KvClient;
  };
  const asApp = (name: string, method: string, key: string, body?: unknown) => call(method, `/v1/kv/${key}`, keys[name]!, body);

  before(async () => {
    await start();
    squad = (await call('POST', '/v1/squads', adminToken, { name: 'vaults' })).body as CreatedSquadBody;
    await call('POST', '/v1/services', squad.token, { name: 'app-foo', squad: 'vaults' });
    assert.equal((await call('POST', '/v1/storage', squad.token, { name: 'vault', kind: 'kv', service: 'app-foo', sites: ['sto', 'gcp-eu'] })).status, 202);
    await waitFor(async () => ((await call('GET', '/v1/storage/vault', squad.token)).body as StorageBody).status === 'ready', 'the kv store', 30_000);
    for (const name of ['foo', 'mobile']) keys[name] = ((await call('POST', '/v1/apps', squad.token, { name, storage: 'vault', maxKeys: 10 })).body as CreatedAppBody).token;
  });
  after(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('app foo neither reads, lists nor overwrites the keys of service app-foo', async () => {
    const service = await serviceClient();
    await service.put('secret', { pin: 1234 });
    const read = await asApp('foo', 'GET', 'secret');
    assert.equal(read.status, 404, JSON.stringify(read.body));
    const listed = (await call('GET', '/v1/kv?prefix=', keys.foo!)).body as { items: unknown[] };
    assert.deepEqual(listed.items, []);
    assert.equal((await asApp('foo', 'PUT', 'secret', { value: 'overwritten' })).status, 200);
    assert.deepEqual((await service.get('secret'))?.value, { pin: 1234 });
    assert.deepEqual(((await asApp('foo', 'GET', 'secret')).body as { value: unknown }).value, 'overwritten');
  });

  it('a store in the old layout is moved at the next start: each app keeps its keys, and the colliding pair\'s stay the service\'s', async () => {
    // The old layout, as an earlier version wrote it: the service under its bare name, apps under app-NAME.
    const creds = await credentials();
    const legacy = async (ns: string, key: string, value: unknown) => {
      const res = await fetch(`${creds.endpoints.sto}/kv/${ns}/${key}`, { method: 'PUT', headers: { authorization: `Bearer ${creds.secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ value }) });
      assert.equal(res.status, 200, await res.text());
    };
    await legacy('app-foo', 'ledger', { balance: 10 });
    await legacy('app-mobile', 'users/1', { name: 'ada' });
    await db.query('UPDATE storage_resources SET kv_layout = 1 WHERE name = $1', ['vault']);
    await app.close();

    await start();
    await waitFor(async () => ((await call('GET', '/v1/audit?target=storage:vault', adminToken)).body as { entries: AuditBody[] }).entries.some((e) => e.action === 'storage.kv-namespaces'), 'the move', 30_000);
    const service = await serviceClient();
    assert.deepEqual((await service.get('ledger'))?.value, { balance: 10 });
    assert.deepEqual(((await asApp('mobile', 'GET', 'users/1')).body as { value: unknown }).value, { name: 'ada' });
    assert.equal((await asApp('foo', 'GET', 'ledger')).status, 404, 'the app that collided with the service does not get its keys');
    // The move goes through replication like any write: the other site has it too.
    const atEu = (await openStorageClient('kv', { credentials: () => creds as unknown as Record<string, unknown>, site: 'gcp-eu', service: 'app-foo', name: 'vault' })) as KvClient;
    await waitFor(async () => (await atEu.get('ledger')) !== null, 'the moved key in gcp-eu', 5000);
  });
});
