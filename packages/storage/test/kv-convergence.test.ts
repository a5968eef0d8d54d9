import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { KvStore } from '../src/index.ts';

// The conflict rule, in-process: three sites with skewed clocks take writes and deletes of the
// same few keys and pull each other's logs in any order, in pieces of any size. Once everyone has
// pulled everyone, every site holds the same thing, and it is what the documented rule says: per
// key, the write with the highest hybrid-logical stamp, ties to the site whose name sorts last.

const root = mkdtempSync(join(tmpdir(), 'squadron-kv-convergence-'));
after(() => rmSync(root, { recursive: true, force: true }));

const SITES = ['sto', 'gcp-eu', 'aws-us'] as const;
const KEYS = ['a', 'b', 'c'];

type Step =
  | { kind: 'put'; site: number; key: string; value: number }
  | { kind: 'delete'; site: number; key: string }
  | { kind: 'tick'; ms: number }
  | { kind: 'pull'; to: number; from: number; limit: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), site: fc.nat(2), key: fc.constantFrom(...KEYS), value: fc.integer({ min: 0, max: 99 }) }),
  fc.record({ kind: fc.constant('delete' as const), site: fc.nat(2), key: fc.constantFrom(...KEYS) }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('pull' as const), to: fc.nat(2), from: fc.nat(2), limit: fc.integer({ min: 1, max: 4 }) }),
);

/** Apply up to `limit` of `from`'s changes at `to`, as the replicator does. */
function pull(to: KvStore, from: KvStore, limit: number): number {
  if (to === from) return 0;
  const cursor = to.cursorOf(from.site);
  const page = from.changesSince(cursor.seq, limit);
  const last = page.changes[page.changes.length - 1];
  to.apply(page.changes, { site: from.site, storeId: page.storeId, seq: last?.seq ?? cursor.seq });
  return page.changes.length;
}

let run = 0;

describe('kv replication: the conflict rule', () => {
  it('converges to the same value on every site, the one the rule picks, whatever the order of delivery', () => {
    fc.assert(fc.property(fc.array(step, { maxLength: 60 }), fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 3, maxLength: 3 }), (steps, skews) => {
      run++;
      const time = { now: 1_700_000_000_000 };
      const stores = SITES.map((site, i) => KvStore.open({ file: join(root, `${run}-${site}.db`), site, now: () => time.now + skews[i]! }));
      try {
        for (const s of steps) {
          if (s.kind === 'put') stores[s.site]!.put('app', s.key, s.value);
          else if (s.kind === 'delete') stores[s.site]!.delete('app', s.key);
          else if (s.kind === 'tick') time.now += s.ms;
          else pull(stores[s.to]!, stores[s.from]!, s.limit);
        }
        // Everyone pulls everyone until nothing moves.
        let moved = 1;
        while (moved > 0) {
          moved = 0;
          for (const to of stores) for (const from of stores) moved += pull(to, from, 1000);
        }
        // What the rule says, from every write ever made.
        const writes = stores.flatMap((s) => s.changesSince(0, 10_000).changes);
        for (const key of KEYS) {
          const ofKey = writes.filter((w) => w.key === key);
          const winner = ofKey.reduce<(typeof ofKey)[number] | null>((best, w) => {
            if (!best) return w;
            const byStamp = w.hlc.ms - best.hlc.ms || w.hlc.c - best.hlc.c;
            return byStamp > 0 || (byStamp === 0 && w.origin > best.origin) ? w : best;
          }, null);
          const expected = winner && winner.op === 'put' ? JSON.parse(winner.value!) : null;
          for (const store of stores) {
            assert.deepEqual(store.get('app', key)?.value ?? null, expected, `key ${key} at ${store.site}`);
          }
        }
        // And the replicas' whole state (tombstones, stamps, origins) is the same; versions are each site's own.
        const state = (s: KvStore) => s.snapshot(null, 10_000).writes;
        for (const store of stores.slice(1)) assert.deepEqual(state(store), state(stores[0]!));
      } finally {
        for (const s of stores) s.close();
      }
    }), { numRuns: 60 });
  });

  it('counts versions per site: a remote write that wins moves the local version up, never down', (t) => {
    const time = { now: 1_700_000_000_000 };
    const sto = KvStore.open({ file: join(root, `${t.name.length}-v-sto.db`), site: 'sto', now: () => time.now });
    const eu = KvStore.open({ file: join(root, `${t.name.length}-v-eu.db`), site: 'gcp-eu', now: () => time.now });
    after(() => { sto.close(); eu.close(); });
    sto.put('app', 'k', 'sto-1');
    sto.put('app', 'k', 'sto-2');
    sto.put('app', 'k', 'sto-3');
    time.now += 1;
    eu.put('app', 'k', 'eu-1'); // later stamp: wins everywhere
    pull(sto, eu, 100);
    pull(eu, sto, 100);
    assert.deepEqual(sto.get('app', 'k'), { key: 'k', value: 'eu-1', version: 4, expiresAt: null });
    assert.deepEqual(eu.get('app', 'k'), { key: 'k', value: 'eu-1', version: 1, expiresAt: null });
    // Compare-and-set holds at each site against its own version.
    assert.equal(sto.put('app', 'k', 'sto-4', { ifVersion: 4 }).version, 5);
    assert.throws(() => eu.put('app', 'k', 'eu-2', { ifVersion: 4 }), /is at version 1, not 4/);
  });
});
