import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KvClient, StorageError, appNamespace, legacyMoves, serviceNamespace } from '../src/index.ts';
import { NAMESPACE_PATTERN } from '../src/kv/limits.ts';
import { OWNER_NAMESPACE_PATTERN } from '../src/kv/namespaces.ts';

/** Every name a service or an app may have (the API's NAME pattern). */
const ownerName = fc.tuple(
  fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
  fc.array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), { maxLength: 62 }),
).map(([first, rest]) => first + rest.join(''));
/** Names built to look alike across kinds: `app-x`, `svc-x`, `app`, `svc`. */
const lookalike = fc.tuple(fc.constantFrom('', 'app-', 'svc-', 'app', 'svc'), ownerName).map(([p, n]) => (p + n).slice(0, 63));
const owner = fc.record({ kind: fc.constantFrom('service', 'app'), name: fc.oneof(ownerName, lookalike) });
const namespaceOf = (o: { kind: string; name: string }) => (o.kind === 'service' ? serviceNamespace(o.name) : appNamespace(o.name));

describe('kv namespaces of services and apps', () => {
  it('never gives two owners the same namespace, whatever their names (injective over every valid name)', () => {
    fc.assert(fc.property(owner, owner, (a, b) => {
      if (a.kind === b.kind && a.name === b.name) return;
      assert.notEqual(namespaceOf(a), namespaceOf(b), `${a.kind} ${a.name} and ${b.kind} ${b.name}`);
    }), { numRuns: 5000, examples: [[{ kind: 'app', name: 'foo' }, { kind: 'service', name: 'app-foo' }]] });
  });

  it('gives namespaces the kv client and server take, and only those', () => {
    fc.assert(fc.property(owner, (o) => {
      const ns = namespaceOf(o);
      assert.match(ns, new RegExp(OWNER_NAMESPACE_PATTERN));
      assert.match(ns, new RegExp(NAMESPACE_PATTERN));
    }), { numRuns: 2000 });
    assert.equal(appNamespace('foo'), 'app.foo');
    assert.equal(serviceNamespace('app-foo'), 'svc.app-foo');
  });

  it('refuses a name no service or app may have, and a client bound to a namespace that is not an owner\'s', () => {
    for (const bad of ['', 'Foo', '1abc', 'a.b', 'a_b', 'x'.repeat(64)]) {
      assert.throws(() => serviceNamespace(bad), (err: unknown) => err instanceof StorageError && err.code === 'BAD_REQUEST', bad);
      assert.throws(() => appNamespace(bad), StorageError, bad);
    }
    for (const ns of ['app-foo', 'app-1', 'foo', 'svc.', 'other.foo']) {
      assert.throws(() => new KvClient({ credentials: { endpoints: { sto: 'http://127.0.0.1:1' }, secret: 's' }, namespace: ns }), StorageError, ns);
    }
  });

  it('moves the old layout to the new one; where an app and the service collided, the keys stay the service\'s', () => {
    assert.deepEqual(legacyMoves('notes', ['mobile', 'web']), [
      { from: 'notes', to: 'svc.notes', quota: false },
      { from: 'app-mobile', to: 'app.mobile', quota: true },
      { from: 'app-web', to: 'app.web', quota: true },
    ]);
    assert.deepEqual(legacyMoves('app-foo', ['foo', 'bar']), [
      { from: 'app-foo', to: 'svc.app-foo', quota: false },
      { from: 'app-bar', to: 'app.bar', quota: true },
    ]);
  });
});
