import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silent, waitFor } from '@squadron/testkit';
import { KvStore } from '../src/index.ts';
import type { KvChange } from '../src/kv/changes.ts';
import { freePorts } from '../src/kv/ports.ts';
import { Replicator, type PeerLink } from '../src/kv/replication.ts';
import type { KvSiteSettings } from '../src/kv/settings.ts';
import { SiteProcess } from '../src/kv/site-process.ts';

const root = mkdtempSync(join(tmpdir(), 'squadron-kv-replication-'));
const SECRET = 'replication-secret';
after(() => rmSync(root, { recursive: true, force: true }));

/** One request to a site's server, as the platform makes it. */
async function kv(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${SECRET}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

describe('kv replication between two server processes', () => {
  const sites = ['sto', 'gcp-eu'] as const;
  const url: Record<string, string> = {};
  const settings: Record<string, KvSiteSettings> = {};
  const running: Record<string, SiteProcess> = {};

  const start = async (site: string) => {
    running[site] = new SiteProcess({ settings: settings[site]!, logFile: join(root, `${site}.log`), log: silent });
    await running[site]!.start();
  };

  before(async () => {
    const ports = await freePorts(2, '127.0.0.1');
    sites.forEach((site, i) => (url[site] = `http://127.0.0.1:${ports[i]}`));
    for (const site of sites) {
      settings[site] = {
        dir: join(root, site), site, host: '127.0.0.1', port: Number(new URL(url[site]!).port), secret: SECRET,
        peers: sites.filter((s) => s !== site).map((s) => ({ site: s, url: url[s]! })),
        defaultQuota: { maxKeys: 10_000, maxBytes: 10_000_000 }, pollMs: 150, retentionMs: 3_600_000,
      };
    }
    await Promise.all(sites.map(start));
  });
  after(async () => {
    await Promise.all(Object.values(running).map((p) => p.stop()));
  });

  it('makes a write in sto readable in gcp-eu within 1 s', async (t) => {
    const delays: number[] = [];
    for (let i = 0; i < 20; i++) {
      const key = `delay/${i}`;
      const written = await kv(url.sto!, 'PUT', `/kv/app/${encodeURIComponent(key)}`, { value: { i } });
      assert.equal(written.status, 200);
      const at = performance.now();
      await waitFor(async () => (await kv(url['gcp-eu']!, 'GET', `/kv/app/${encodeURIComponent(key)}`)).status === 200, `${key} in gcp-eu`, 5000, 2);
      delays.push(performance.now() - at);
    }
    delays.sort((a, b) => a - b);
    const median = delays[Math.floor(delays.length / 2)]!;
    const max = delays[delays.length - 1]!;
    t.diagnostic(`sto -> gcp-eu: median ${median.toFixed(1)} ms, max ${max.toFixed(1)} ms over ${delays.length} writes`);
    assert.ok(max < 1000, `every write readable in gcp-eu within 1 s (max ${max.toFixed(0)} ms)`);
    const stats = await kv(url['gcp-eu']!, 'GET', '/stats');
    assert.equal(stats.json.peers[0].site, 'sto');
    assert.equal(stats.json.peers[0].reachable, true);
    assert.ok(stats.json.peers[0].lagMs < 1000, `lag reported: ${stats.json.peers[0].lagMs} ms`);
  });

  it('converges concurrent conflicting writes in both sites to the one the rule picks', async (t) => {
    const keys = Array.from({ length: 10 }, (_, i) => `conflict/${i}`);
    // Each key written at both sites at once, several times over, some ending in a delete.
    for (let round = 0; round < 3; round++) {
      await Promise.all(keys.flatMap((key, i) => sites.map((site) => {
        const path = `/kv/app/${encodeURIComponent(key)}`;
        return round === 2 && i % 3 === 0 && site === 'gcp-eu' ? kv(url[site]!, 'DELETE', path) : kv(url[site]!, 'PUT', path, { value: `${site}-${round}` });
      })));
    }
    const read = async (site: string, key: string) => {
      const r = await kv(url[site]!, 'GET', `/kv/app/${encodeURIComponent(key)}`);
      return r.status === 200 ? r.json.value : null;
    };
    // The rule, from both sites' logs: per key, the highest stamp, ties to the site name that sorts last.
    const logs = await Promise.all(sites.map(async (s) => (await kv(url[s]!, 'GET', '/replication/changes?since=0&limit=5000')).json.changes as KvChange[]));
    const expected = new Map<string, unknown>();
    for (const key of keys) {
      const winner = logs.flat().filter((c) => c.key === key).sort((a, b) => a.hlc.ms - b.hlc.ms || a.hlc.c - b.hlc.c || (a.origin < b.origin ? -1 : 1)).pop()!;
      expected.set(key, winner.op === 'put' ? JSON.parse(winner.value!) : null);
    }
    await waitFor(async () => {
      for (const key of keys) {
        for (const site of sites) if (JSON.stringify(await read(site, key)) !== JSON.stringify(expected.get(key))) return false;
      }
      return true;
    }, 'both sites holding the winner of every key', 5000);
    const won = (prefix: string) => [...expected.values()].filter((v) => typeof v === 'string' && v.startsWith(prefix)).length;
    t.diagnostic(`winners: sto ${won('sto')}, gcp-eu ${won('gcp-eu')}, deleted ${[...expected.values()].filter((v) => v === null).length}`);
  });

  it('catches a site up on what it missed while it was down', async () => {
    await running['gcp-eu']!.stop();
    for (let i = 0; i < 30; i++) assert.equal((await kv(url.sto!, 'PUT', `/kv/app/missed%2F${i}`, { value: i })).status, 200);
    await kv(url.sto!, 'DELETE', '/kv/app/delay%2F0');
    await waitFor(async () => !(await kv(url.sto!, 'GET', '/stats')).json.peers[0].reachable, 'sto seeing gcp-eu down', 5000);

    await start('gcp-eu');
    await waitFor(async () => {
      const listed = await kv(url['gcp-eu']!, 'GET', '/kv/app?prefix=missed%2F&limit=100');
      const deleted = (await kv(url['gcp-eu']!, 'GET', '/kv/app/delay%2F0')).status === 404;
      return listed.json.items.length === 30 && deleted;
    }, 'gcp-eu holding the 30 writes and the delete it missed', 10_000);
    await waitFor(async () => (await kv(url.sto!, 'GET', '/stats')).json.peers[0].reachable, 'sto reaching gcp-eu again', 5000);
  });
});

/** A peer reached in-process: its store directly. */
function storeLink(store: KvStore): PeerLink {
  return {
    site: store.site,
    address: `store:${store.site}`,
    changes: async (since, limit) => ({ site: store.site, ...store.changesSince(since, limit) }),
    snapshot: async (afterEntry, limit) => ({ site: store.site, storeId: store.storeId, ...store.snapshot(afterEntry, limit) }),
    wake: async () => {},
  };
}

describe('kv replication: a log that no longer reaches back', () => {
  it('merges the peer\'s snapshot, then follows its log', async () => {
    const sto = KvStore.open({ file: join(root, 'snap-sto.db'), site: 'sto' });
    const eu = KvStore.open({ file: join(root, 'snap-eu.db'), site: 'gcp-eu' });
    for (let i = 0; i < 25; i++) sto.put('app', `k${i}`, i);
    sto.delete('app', 'k3');
    eu.put('app', 'k4', 'older, from gcp-eu'); // later than sto's: stays
    // Every change forgotten, as if gcp-eu had been away longer than the retention.
    sto.purge(sto.stats().head);
    const replicator = new Replicator({ store: eu, peers: [storeLink(sto)], intervalMs: 20, batch: 7 });
    replicator.start();
    try {
      await waitFor(() => eu.cursorOf('sto').seq === sto.stats().head, 'gcp-eu at sto\'s head', 5000);
      assert.equal(eu.list('app', 'k', { limit: 100 }).items.length, 24);
      assert.equal(eu.get('app', 'k3'), null, 'the tombstone came with the snapshot');
      assert.equal(eu.get('app', 'k4')?.value, 'older, from gcp-eu');
      sto.put('app', 'after', 1);
      replicator.wake('sto');
      await waitFor(() => eu.get('app', 'after') !== null, 'a write after the snapshot, from the log', 5000);
      assert.equal(replicator.status()[0]!.reachable, true);
    } finally {
      await replicator.stop();
      sto.close();
      eu.close();
    }
  });
});
