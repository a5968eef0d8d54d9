import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvConflictError, KvInputError, KvQuotaError, KvStore, StorageError, type KvStoreOptions } from '../src/index.ts';

const root = mkdtempSync(join(tmpdir(), 'squadron-kv-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A store of its own per test, on a clock the test moves. */
function fresh(title: string, options: Partial<KvStoreOptions> = {}) {
  const clock = { now: 1_700_000_000_000 };
  const store = KvStore.open({ file: join(root, `${title.replace(/[^a-z0-9]+/gi, '-')}.db`), site: 'sto', now: () => clock.now, ...options });
  after(() => store.close());
  return { store, clock };
}

describe('kv store: versions and compare-and-set', () => {
  it('counts a version per key, from 1, up on every write, on through a delete', (t) => {
    const { store } = fresh(t.name);
    assert.equal(store.get('app', 'k'), null);
    assert.deepEqual(store.put('app', 'k', { a: 1 }), { version: 1, expiresAt: null });
    assert.deepEqual(store.put('app', 'k', { a: 2 }), { version: 2, expiresAt: null });
    assert.deepEqual(store.get('app', 'k'), { key: 'k', value: { a: 2 }, version: 2, expiresAt: null });
    assert.deepEqual(store.delete('app', 'k'), { deleted: true });
    assert.equal(store.get('app', 'k'), null);
    assert.deepEqual(store.delete('app', 'k'), { deleted: false });
    // Not back to 1: a reader holding version 1 or 2 from before the delete cannot be fooled.
    assert.equal(store.put('app', 'k', 'again').version, 5);
  });

  it('keeps namespaces apart', (t) => {
    const { store } = fresh(t.name);
    store.put('app-1', 'k', 1);
    store.put('app-2', 'k', 2);
    assert.equal(store.get('app-1', 'k')?.value, 1);
    assert.equal(store.get('app-2', 'k')?.value, 2);
    assert.deepEqual(store.usageOf('app-1'), { keys: 1, bytes: 2 });
  });

  it('writes with ifVersion only at that version, and refuses with the current one', (t) => {
    const { store } = fresh(t.name);
    assert.equal(store.put('app', 'k', 'a', { ifVersion: 0 }).version, 1);
    assert.throws(() => store.put('app', 'k', 'b', { ifVersion: 0 }), (err: unknown) =>
      err instanceof KvConflictError && err.code === 'CONFLICT' && err.currentVersion === 1 && /already exists \(version 1\)/.test(err.message));
    assert.throws(() => store.put('app', 'k', 'b', { ifVersion: 7 }), (err: unknown) =>
      err instanceof KvConflictError && err.currentVersion === 1 && err.expectedVersion === 7 && /retry with version 1/.test(err.message));
    assert.equal(store.put('app', 'k', 'b', { ifVersion: 1 }).version, 2);
    assert.throws(() => store.delete('app', 'k', { ifVersion: 1 }), KvConflictError);
    assert.equal(store.get('app', 'k')?.value, 'b');
    assert.deepEqual(store.delete('app', 'k', { ifVersion: 2 }), { deleted: true });
    assert.throws(() => store.put('app', 'k', 'c', { ifVersion: 3 }), (err: unknown) => err instanceof KvConflictError && err.currentVersion === 0);
  });

  it('refuses bad input whole, naming every field', (t) => {
    const { store } = fresh(t.name);
    assert.throws(() => store.put('Bad Space', '', null, { ttlMs: 0, ifVersion: -1 }), (err: unknown) => {
      assert.ok(err instanceof KvInputError && err.code === 'BAD_REQUEST');
      assert.deepEqual(err.fields.map((f) => f.path), ['params:/namespace', 'params:/key', '/value', '/ttlMs', '/ifVersion']);
      return true;
    });
    assert.throws(() => store.put('app', 'a\u0000b', 1), /NUL/);
    assert.throws(() => store.put('app', 'k'.repeat(1025), 1), /at most 1024/);
    assert.throws(() => store.list('app', '', { limit: 0 }), /limit/);
  });
});

describe('kv store: TTL', () => {
  it('hides a key the moment it expires, and a write brings it back with a higher version', (t) => {
    const { store, clock } = fresh(t.name);
    const start = clock.now;
    assert.deepEqual(store.put('app', 'session', 's1', { ttlMs: 1000 }), { version: 1, expiresAt: start + 1000 });
    clock.now = start + 999;
    assert.equal(store.get('app', 'session')?.value, 's1');
    clock.now = start + 1000;
    assert.equal(store.get('app', 'session'), null);
    assert.deepEqual(store.list('app').items, []);
    // Expired is absent, for compare-and-set too.
    assert.equal(store.put('app', 'session', 's2', { ifVersion: 0 }).version, 2);
    assert.equal(store.get('app', 'session')?.expiresAt, null);
  });

  it('turns expired keys into tombstones (no longer counted) and forgets tombstones after the retention', (t) => {
    const { store, clock } = fresh(t.name, { retentionMs: 60_000 });
    store.put('app', 'a', 'x', { ttlMs: 10 });
    store.put('app', 'b', 'y');
    assert.deepEqual(store.usageOf('app'), { keys: 2, bytes: 8 }, 'each: the key and its JSON value, "x"');
    clock.now += 10;
    assert.equal(store.expire(), 1);
    assert.deepEqual(store.usageOf('app'), { keys: 1, bytes: 4 });
    assert.equal(store.snapshot(null).writes.length, 2, 'the tombstone stays, to order late writes');
    clock.now += 60_001;
    assert.equal(store.purge(store.stats().head).tombstones, 1);
    assert.deepEqual(store.snapshot(null).writes.map((w) => w.key), ['b']);
  });
});

describe('kv store: quotas', () => {
  it('refuses a key over maxKeys, naming the limit and the use', (t) => {
    const { store } = fresh(t.name, { defaultQuota: { maxKeys: 2, maxBytes: 1_000_000 } });
    store.put('app', 'a', 1);
    store.put('app', 'b', 2);
    store.put('app', 'a', 3); // replacing a key adds none
    assert.throws(() => store.put('app', 'c', 4), (err: unknown) => {
      assert.ok(err instanceof KvQuotaError && err.code === 'QUOTA_EXCEEDED');
      assert.deepEqual([err.namespace, err.limit, err.max, err.used], ['app', 'maxKeys', 2, 2]);
      assert.match(err.message, /namespace 'app' holds 2 keys and its quota is 2 \(maxKeys\)/);
      assert.match(err.message, /delete keys/);
      return true;
    });
    assert.equal(store.get('app', 'c'), null, 'nothing written');
    assert.equal(store.put('other', 'c', 4).version, 1, 'other namespaces have their own quota');
  });

  it('refuses growth over maxBytes but lets a full namespace shrink', (t) => {
    const { store } = fresh(t.name, { defaultQuota: { maxKeys: 100, maxBytes: 20 } });
    store.put('app', 'k', 'x'.repeat(15)); // 1 + 17 bytes
    assert.throws(() => store.put('app', 'k', 'x'.repeat(20)), (err: unknown) =>
      err instanceof KvQuotaError && err.limit === 'maxBytes' && err.used === 18 && /would bring namespace 'app' to 23 bytes, over its quota of 20/.test(err.message));
    store.setQuota('app', { maxBytes: 5 });
    assert.equal(store.put('app', 'k', 'x').version, 2, 'shrinking is allowed over quota');
    assert.deepEqual(store.usageOf('app'), { keys: 1, bytes: 4 });
  });

  it('frees expired keys before refusing', (t) => {
    const { store, clock } = fresh(t.name, { defaultQuota: { maxKeys: 1, maxBytes: 1000 } });
    store.put('app', 'old', 1, { ttlMs: 5 });
    clock.now += 5;
    assert.equal(store.put('app', 'new', 2).version, 1);
  });

  it('keeps per-namespace quotas, back to the default with null', (t) => {
    const { store } = fresh(t.name, { defaultQuota: { maxKeys: 10, maxBytes: 1000 } });
    assert.deepEqual(store.setQuota('app', { maxKeys: 1 }), { maxKeys: 1, maxBytes: 1000 });
    store.put('app', 'a', 1);
    assert.throws(() => store.put('app', 'b', 1), KvQuotaError);
    assert.deepEqual(store.setQuota('app', { maxKeys: null }), { maxKeys: 10, maxBytes: 1000 });
    assert.equal(store.put('app', 'b', 1).version, 1);
  });
});

describe('kv store: listing by prefix', () => {
  it('lists live keys of a prefix in order, a page at a time', (t) => {
    const { store, clock } = fresh(t.name);
    for (const k of ['users/3', 'users/1', 'user', 'users/2', 'users0', 'orders/1', 'users/4', 'users/é']) store.put('app', k, k);
    store.put('app', 'users/5', 'gone', { ttlMs: 1 });
    store.delete('app', 'users/4');
    clock.now += 1;
    const keys: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = store.list('app', 'users/', { limit: 2, after });
      keys.push(...page.items.map((i) => i.key));
      after = page.next ?? undefined;
      pages++;
    } while (after !== undefined);
    assert.deepEqual(keys, ['users/1', 'users/2', 'users/3', 'users/é']);
    assert.equal(pages, 2);
    assert.deepEqual(store.list('app').items.map((i) => i.key), ['orders/1', 'user', 'users/1', 'users/2', 'users/3', 'users/é', 'users0']);
    assert.deepEqual(store.list('app', 'nothing').items, []);
    // A cursor before the prefix starts at the prefix; one past it ends the listing.
    assert.deepEqual(store.list('app', 'users/', { after: 'a' }).items.length, 4);
    assert.deepEqual(store.list('app', 'users/', { after: 'z' }).items, []);
  });
});

describe('kv store: the change log', () => {
  it('logs every write and delete in order, with its origin and a rising hybrid-logical stamp', (t) => {
    const { store } = fresh(t.name);
    store.put('app', 'a', 1);
    store.put('app', 'a', 2); // the same ms: the counter orders them
    store.delete('app', 'a');
    const page = store.changesSince(0);
    assert.equal(page.head, 3);
    assert.equal(page.truncated, false);
    assert.deepEqual(page.changes.map((c) => [c.seq, c.origin, c.op, c.value]), [[1, 'sto', 'put', '1'], [2, 'sto', 'put', '2'], [3, 'sto', 'delete', null]]);
    const [a, b] = page.changes;
    assert.ok(a!.hlc.ms === b!.hlc.ms && b!.hlc.c === a!.hlc.c + 1);
    assert.deepEqual(store.changesSince(2).changes.map((c) => c.seq), [3]);
  });

  it('drops changes every peer has, and says so to a peer that asks from before them', (t) => {
    const { store } = fresh(t.name);
    for (let i = 0; i < 5; i++) store.put('app', `k${i}`, i);
    assert.equal(store.purge(3).changes, 3);
    assert.equal(store.changesSince(3).truncated, false);
    assert.deepEqual(store.changesSince(3).changes.map((c) => c.seq), [4, 5]);
    assert.equal(store.changesSince(1).truncated, true);
    store.put('app', 'k9', 9);
    assert.equal(store.stats().head, 6, 'sequence numbers are never reused');
  });

  it('orders its own writes after any stamp it has seen from a peer, even one from a clock ahead', (t) => {
    const { store, clock } = fresh(t.name);
    const ahead = { ms: clock.now + 60_000, c: 4 };
    store.apply([{ origin: 'gcp-eu', hlc: ahead, namespace: 'app', key: 'k', op: 'put', value: '"remote"', expiresAt: null }]);
    assert.equal(store.get('app', 'k')?.value, 'remote');
    store.put('app', 'k', 'local');
    const mine = store.changesSince(0).changes[0]!;
    assert.deepEqual(mine.hlc, { ms: ahead.ms, c: 5 });
    // Reopened, the clock carries on from there.
    store.close();
    const again = KvStore.open({ file: join(root, `${t.name.replace(/[^a-z0-9]+/gi, '-')}.db`), site: 'sto', now: () => clock.now });
    after(() => again.close());
    again.put('app', 'k', 'later');
    assert.deepEqual(again.changesSince(1).changes[0]!.hlc, { ms: ahead.ms, c: 6 });
  });

  it('belongs to one site', (t) => {
    const { store } = fresh(t.name);
    const file = join(root, `${t.name.replace(/[^a-z0-9]+/gi, '-')}.db`);
    store.close();
    assert.throws(() => KvStore.open({ file, site: 'gcp-eu' }), (err: unknown) =>
      err instanceof StorageError && err.code === 'BAD_REQUEST' && /belongs to site 'sto', not 'gcp-eu'/.test(err.message));
  });
});
