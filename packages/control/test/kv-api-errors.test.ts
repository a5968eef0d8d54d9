import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { CreatedAppBody, ErrorBody } from '@squadron/client';
import type { KvEndpoints } from '@squadron/storage';
import { silent } from '@squadron/testkit';
import { startKvControl, type KvTestControl } from './kv-harness.ts';

/** A value nested `depth` deep, as JSON text: built as text, since encoding it could overflow the test's own stack. */
const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

/**
 * An app's kv routes pass on what the kv server answers: its code, its status and its message,
 * with each refused field; only a kv server that cannot be reached is 503 UNAVAILABLE. Before,
 * a value nested thousands deep came back 503 "may or may not have applied" while the kv server
 * answers 400. End to end: the control plane over HTTP, a real kv server process behind it, and
 * the same requests sent to that kv server directly for comparison.
 */
describe('kv errors through the control plane\'s /v1/kv routes', () => {
  let k: KvTestControl;
  let creds: KvEndpoints;
  let appKey = '';
  const app = async (method: string, key: string, body?: string) => {
    const res = await fetch(`${k.url}/v1/kv/${encodeURIComponent(key)}`, {
      method, headers: { authorization: `Bearer ${appKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body } : {}),
    });
    return { status: res.status, body: (await res.json()) as ErrorBody };
  };
  const direct = async (method: string, key: string, body?: string) => {
    const res = await fetch(`${creds.endpoints.sto}/kv/probe/${encodeURIComponent(key)}`, {
      method, headers: { authorization: `Bearer ${creds.secret}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body } : {}),
    });
    return { status: res.status, body: (await res.json()) as ErrorBody };
  };

  before(async () => {
    k = await startKvControl('sqlite', 'kv_errors');
    const writers = await k.squad('writers');
    await k.call('POST', '/v1/services', writers.token, { name: 'notes', squad: 'writers' });
    creds = await k.kvStore(writers.token, 'notes', 'notes');
    appKey = ((await k.call('POST', '/v1/apps', writers.token, { name: 'mobile', storage: 'notes', maxKeys: 3 })).body as CreatedAppBody).token;
  });
  after(async () => {
    await k?.close();
  });

  it('a value nested too deep: 400 BAD_REQUEST naming /value, as the kv server answers, and nothing written', async () => {
    for (const depth of [1001, 5000, 50_000]) {
      const body = `{"value":${nested(depth)}}`;
      const server = await direct('PUT', 'deep', body);
      const through = await app('PUT', 'deep', body);
      assert.equal(server.status, 400, JSON.stringify(server.body));
      assert.equal(through.status, server.status, `depth ${depth}: ${JSON.stringify(through.body)}`);
      assert.equal(through.body.error.code, server.body.error.code);
      assert.equal(through.body.error.code, 'BAD_REQUEST');
      assert.deepEqual(through.body.error.fields?.map((f) => f.path), ['/value']);
      assert.match(through.body.error.message, /nests deeper than 1000 levels/);
      assert.match(server.body.error.message, /nests deeper than 1000 levels/);
    }
    assert.equal((await app('GET', 'deep')).status, 404);
    // The limit itself is taken, by both.
    assert.equal((await app('PUT', 'deep', `{"value":${nested(1000)}}`)).status, 200);
    assert.equal((await direct('PUT', 'deep', `{"value":${nested(1000)}}`)).status, 200);
  });

  it('over its quota: 403 QUOTA_EXCEEDED with the kv server\'s message', async () => {
    for (const key of ['a', 'b']) assert.equal((await app('PUT', key, '{"value":1}')).status, 200);
    const over = await app('PUT', 'c', '{"value":1}');
    assert.equal(over.status, 403, JSON.stringify(over.body));
    assert.equal(over.body.error.code, 'QUOTA_EXCEEDED');
    assert.match(over.body.error.message, /holds 3 keys and its quota is 3 \(maxKeys\), so key 'c' cannot be added/);
  });

  it('a bad key: 400 BAD_REQUEST naming the key, as the kv server answers', async () => {
    const long = 'k'.repeat(1025);
    const server = await direct('PUT', long, '{"value":1}');
    const through = await app('PUT', long, '{"value":1}');
    assert.equal(server.status, 400);
    assert.equal(through.status, 400, JSON.stringify(through.body));
    assert.equal(through.body.error.code, 'BAD_REQUEST');
    assert.deepEqual(through.body.error.fields, [{ path: 'params:/key', message: 'must be at most 1024 characters' }]);
  });

  it('a compare-and-set that lost: 409 CONFLICT with the versions', async () => {
    const lost = await app('PUT', 'a', '{"value":2,"ifVersion":7}');
    assert.equal(lost.status, 409, JSON.stringify(lost.body));
    assert.equal(lost.body.error.code, 'CONFLICT');
    assert.match(lost.body.error.message, /key 'a' is at version 1, not 7/);
  });

  it('only a kv server that cannot be reached is 503 UNAVAILABLE', async () => {
    await k.kv.stop(undefined as never, undefined as never, { dir: join(k.storageDir, 'notes'), log: silent });
    for (const [method, body] of [['GET', undefined], ['PUT', '{"value":3}']] as const) {
      const down = await app(method, 'a', body);
      assert.equal(down.status, 503, `${method}: ${JSON.stringify(down.body)}`);
      assert.equal(down.body.error.code, 'UNAVAILABLE');
      assert.match(down.body.error.message, /no site of this kv resource answers/);
    }
  });
});
