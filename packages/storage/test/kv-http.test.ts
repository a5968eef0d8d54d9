import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { freePort } from '@squadron/testkit';
import { KvClient, KvConflictError, KvQuotaError, KvStore, StorageError } from '../src/index.ts';
import { Replicator } from '../src/kv/replication.ts';
import { buildKvServer } from '../src/kv/server.ts';
import { startKvSite, type KvSite } from '../src/kv/site.ts';

const root = mkdtempSync(join(tmpdir(), 'squadron-kv-http-'));
const SECRET = 'test-secret';
const auth = { authorization: `Bearer ${SECRET}` };

describe('kv HTTP API, in process', () => {
  let app: FastifyInstance;
  let store: KvStore;

  before(async () => {
    store = KvStore.open({ file: join(root, 'inject.db'), site: 'sto', defaultQuota: { maxKeys: 3, maxBytes: 10_000 } });
    app = buildKvServer({ store, replicator: new Replicator({ store, peers: [] }), secret: SECRET });
    await app.ready();
  });
  after(async () => {
    await app.close();
    store.close();
  });

  const put = (url: string, payload: unknown) => app.inject({ method: 'PUT', url, headers: auth, payload: payload as object });

  it('refuses a request without the secret, or with another, with 401; health answers without', async () => {
    const none = await app.inject({ method: 'GET', url: '/kv/app/k' });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().error.code, 'UNAUTHENTICATED');
    assert.match(none.json().error.message, /authorization: Bearer SECRET/);
    const wrong = await app.inject({ method: 'GET', url: '/kv/app/k', headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/stats', headers: { authorization: SECRET } })).statusCode, 401);
    const health = await app.inject({ method: 'GET', url: '/health' });
    assert.deepEqual(health.json(), { site: 'sto', status: 'ok' });
  });

  it('writes, reads, lists and deletes; keys may hold slashes, sent encoded or not', async () => {
    const written = await put('/kv/app/users%2F1', { value: { name: 'Ada' } });
    assert.equal(written.statusCode, 200);
    assert.deepEqual(written.json(), { key: 'users/1', version: 1, expiresAt: null });
    const read = await app.inject({ method: 'GET', url: '/kv/app/users/1', headers: auth });
    assert.deepEqual(read.json(), { key: 'users/1', value: { name: 'Ada' }, version: 1, expiresAt: null });
    assert.equal((await put('/kv/app/users/%C3%A9', { value: 'é', ttlMs: 60_000 })).statusCode, 200);
    const listed = await app.inject({ method: 'GET', url: '/kv/app?prefix=users%2F&limit=1', headers: auth });
    assert.deepEqual(listed.json().items.map((i: { key: string }) => i.key), ['users/1']);
    const next = await app.inject({ method: 'GET', url: `/kv/app?prefix=users%2F&limit=1&cursor=${listed.json().cursor}`, headers: auth });
    assert.deepEqual(next.json().items.map((i: { key: string }) => i.key), ['users/é']);
    assert.equal(next.json().cursor, null);
    const deleted = await app.inject({ method: 'DELETE', url: '/kv/app/users%2F1', headers: auth });
    assert.deepEqual(deleted.json(), { key: 'users/1', deleted: true });
    const gone = await app.inject({ method: 'GET', url: '/kv/app/users%2F1', headers: auth });
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json().error.code, 'NOT_FOUND');
    await app.inject({ method: 'DELETE', url: '/kv/app/users%2F%C3%A9', headers: auth });
    const longest = `/kv/${'n'.repeat(128)}/${encodeURIComponent('a/b?c#d')}`;
    assert.equal((await put(longest, { value: 1 })).statusCode, 200, 'a namespace of 128 characters, a key with ? and #');
    assert.equal((await app.inject({ method: 'GET', url: longest, headers: auth })).json().key, 'a/b?c#d');
  });

  it('answers a lost compare-and-set with 409 and the current version', async () => {
    await put('/kv/app/cas', { value: 1, ifVersion: 0 });
    const lost = await put('/kv/app/cas', { value: 2, ifVersion: 0 });
    assert.equal(lost.statusCode, 409);
    assert.deepEqual({ ...lost.json().error, message: undefined }, { code: 'CONFLICT', message: undefined, retryable: false, currentVersion: 1, expectedVersion: 0 });
    const del = await app.inject({ method: 'DELETE', url: '/kv/app/cas?ifVersion=5', headers: auth });
    assert.equal(del.statusCode, 409);
    assert.equal(del.json().error.currentVersion, 1);
    assert.equal((await app.inject({ method: 'DELETE', url: '/kv/app/cas?ifVersion=1', headers: auth })).statusCode, 200);
  });

  it('answers a full namespace with 403 QUOTA_EXCEEDED naming the limit and the use', async () => {
    for (const k of ['q1', 'q2', 'q3']) assert.equal((await put(`/kv/quota/${k}`, { value: k })).statusCode, 200);
    const full = await put('/kv/quota/q4', { value: 'q4' });
    assert.equal(full.statusCode, 403);
    const e = full.json().error;
    assert.deepEqual([e.code, e.limit, e.max, e.used, e.namespace], ['QUOTA_EXCEEDED', 'maxKeys', 3, 3, 'quota']);
    const raised = await app.inject({ method: 'PUT', url: '/quotas/quota', headers: auth, payload: { maxKeys: 4 } });
    assert.deepEqual(raised.json(), { namespace: 'quota', quota: { maxKeys: 4, maxBytes: 10_000 }, usage: { keys: 3, bytes: 18 } });
    assert.equal((await put('/kv/quota/q4', { value: 'q4' })).statusCode, 200);
  });

  it('refuses bad input whole with 400, naming every field, and never a 5xx', async () => {
    const bad = await put('/kv/app/k', { value: null, ttlMs: 0, ifVersion: -1, extra: true });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'BAD_REQUEST');
    assert.deepEqual(bad.json().error.fields.map((f: { path: string }) => f.path).sort(), ['/extra', '/ifVersion', '/ttlMs', '/value']);

    const cases: Array<{ method: 'GET' | 'PUT' | 'DELETE' | 'POST'; url: string; payload?: string; type?: string; field?: string }> = [
      { method: 'PUT', url: '/kv/app/k', payload: '{}', field: '/value' },
      { method: 'PUT', url: '/kv/app/k', payload: '{"value":', field: undefined },
      { method: 'PUT', url: '/kv/app/k', payload: 'value=1', type: 'application/x-www-form-urlencoded' },
      { method: 'PUT', url: '/kv/app/k', payload: '[1]' },
      { method: 'PUT', url: '/kv/app/k', payload: '{"value":1,"ttlMs":1.5}', field: '/ttlMs' },
      { method: 'PUT', url: '/kv/app/k', payload: '{"value":1e400}', field: '/value' },
      { method: 'PUT', url: `/kv/${'n'.repeat(129)}/k`, payload: '{"value":1}', field: 'params:/namespace' },
      { method: 'PUT', url: '/kv/app/k', payload: `{"value":1,"ttlMs":${1e15}}`, field: '/ttlMs' },
      { method: 'PUT', url: '/kv/Bad%20Name/k', payload: '{"value":1}', field: 'params:/namespace' },
      { method: 'PUT', url: '/kv/app/', payload: '{"value":1}', field: 'params:/key' },
      { method: 'PUT', url: `/kv/app/${'k'.repeat(1025)}`, payload: '{"value":1}', field: 'params:/key' },
      { method: 'PUT', url: '/kv/app/a%00b', payload: '{"value":1}', field: 'params:/key' },
      { method: 'GET', url: '/kv/app/%E0%A4%A' },
      { method: 'GET', url: '/kv/app?limit=0', field: 'querystring:/limit' },
      { method: 'GET', url: '/kv/app?limit=abc', field: 'querystring:/limit' },
      { method: 'GET', url: '/kv/app?limit=5000', field: 'querystring:/limit' },
      { method: 'GET', url: '/kv/app?cursor=!!!', field: 'querystring:/cursor' },
      { method: 'GET', url: '/kv/app?colour=red', field: 'querystring:/colour' },
      { method: 'DELETE', url: '/kv/app/k?ifVersion=-1', field: 'querystring:/ifVersion' },
      { method: 'GET', url: '/replication/changes', field: 'querystring:/since' },
      { method: 'GET', url: '/replication/changes?since=1&from=NOT%20A%20SITE', field: 'querystring:/from' },
      { method: 'GET', url: '/replication/snapshot?afterKey=x' },
      { method: 'POST', url: '/replication/wake', payload: '{}', field: '/site' },
      { method: 'PUT', url: '/quotas/app', payload: '{"maxKeys":-1}', field: '/maxKeys' },
      { method: 'PUT', url: '/quotas/app', payload: '{}' },
    ];
    for (const c of cases) {
      const res = await app.inject({
        method: c.method, url: c.url, headers: { ...auth, ...(c.payload !== undefined ? { 'content-type': c.type ?? 'application/json' } : {}) },
        ...(c.payload !== undefined ? { payload: c.payload } : {}),
      });
      assert.equal(res.statusCode, 400, `${c.method} ${c.url} ${c.payload ?? ''}: ${res.body}`);
      const e = res.json().error;
      assert.equal(e.code, 'BAD_REQUEST');
      if (c.field) assert.ok(e.fields?.some((f: { path: string }) => f.path === c.field), `${c.url}: ${c.field} named in ${res.body}`);
    }
    const huge = await put('/kv/app/k', { value: 'x'.repeat(1024 * 1024 + 70 * 1024) });
    assert.equal(huge.statusCode, 413);
    assert.equal(huge.json().error.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(store.get('app', 'k'), null, 'nothing was written');
  });
});

describe('kv client against a site over a socket', () => {
  let site: KvSite;
  let deadPort: number;

  before(async () => {
    deadPort = await freePort();
    site = await startKvSite({
      dir: join(root, 'client'), site: 'gcp-eu', host: '127.0.0.1', port: 0, peers: [], secret: SECRET,
      defaultQuota: { maxKeys: 5, maxBytes: 1000 }, pollMs: 150, retentionMs: 60_000,
    });
  });
  after(async () => {
    await site.close();
    rmSync(root, { recursive: true, force: true });
  });

  const client = (namespace: string, endpoints: Record<string, string> = { 'gcp-eu': site.url }, secret = SECRET) =>
    new KvClient({ credentials: { endpoints, secret }, namespace, site: 'sto' });

  it('gets null for a missing key, versions, typed CONFLICT and QUOTA_EXCEEDED errors', async () => {
    const kv = client('app.a1');
    assert.equal(await kv.get('nope'), null);
    assert.deepEqual(await kv.put('users/1', { n: 1 }), { version: 1, expiresAt: null });
    const entry = await kv.get<{ n: number }>('users/1');
    assert.deepEqual(entry, { key: 'users/1', value: { n: 1 }, version: 1, expiresAt: null });
    await assert.rejects(kv.put('users/1', { n: 2 }, { ifVersion: 0 }), (err: unknown) =>
      err instanceof KvConflictError && err.code === 'CONFLICT' && err.currentVersion === 1 && err.key === 'users/1');
    assert.equal((await kv.put('users/1', { n: 2 }, { ifVersion: 1 })).version, 2);
    const withTtl = await kv.put('session', 's', { ttlMs: 60_000 });
    assert.ok(withTtl.expiresAt !== null && withTtl.expiresAt > Date.now());
    for (let i = 2; i <= 4; i++) await kv.put(`users/${i}`, i);
    await assert.rejects(kv.put('users/6', 6), (err: unknown) =>
      err instanceof KvQuotaError && err.code === 'QUOTA_EXCEEDED' && err.limit === 'maxKeys' && err.max === 5 && err.used === 5);
    assert.deepEqual(await kv.delete('session'), { deleted: true });
    assert.deepEqual(await kv.delete('session'), { deleted: false });
    await assert.rejects(kv.delete('users/1', { ifVersion: 1 }), KvConflictError);
  });

  it('lists by prefix a page at a time', async () => {
    const kv = client('app.a2');
    for (const k of ['a/1', 'a/2', 'a/3', 'b/1']) await kv.put(k, k);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await kv.list('a/', { limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((i) => i.key));
      cursor = page.cursor ?? undefined;
    } while (cursor);
    assert.deepEqual(seen, ['a/1', 'a/2', 'a/3']);
  });

  it('goes to the next site when the caller\'s does not answer, for reads and writes', async () => {
    const kv = client('app.a3', { sto: `http://127.0.0.1:${deadPort}`, 'gcp-eu': site.url });
    assert.equal((await kv.put('k', 'v')).version, 1);
    assert.equal(kv.lastSite, 'gcp-eu');
    assert.equal((await kv.get('k'))?.value, 'v');
    const none = client('app.a3', { sto: `http://127.0.0.1:${deadPort}` });
    await assert.rejects(none.get('k'), (err: unknown) => err instanceof StorageError && err.code === 'STORAGE_UNAVAILABLE' && /no site/.test(err.message));
  });

  it('refuses a wrong secret and bad input with typed errors', async () => {
    await assert.rejects(client('app.a1', undefined, 'wrong').get('k'), (err: unknown) => err instanceof StorageError && /refused the secret/.test(err.message));
    await assert.rejects(client('app.a1').put('k', null), (err: unknown) => err instanceof StorageError && err.code === 'BAD_REQUEST');
    assert.throws(() => client('bad namespace'), (err: unknown) => err instanceof StorageError && err.code === 'BAD_REQUEST');
  });
});
