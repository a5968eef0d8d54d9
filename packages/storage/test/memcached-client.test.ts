import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, silent, waitFor } from '@squadron/testkit';
import { HashRing, MemcachedClient, MemcachedProvisioner, StorageError, type MemcachedCredentials, type MemcachedState, type StorageSpec } from '../src/index.ts';

describe('hash ring', () => {
  const servers = ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211'];
  const keys = Array.from({ length: 30_000 }, (_, i) => `key:${i}`);
  const owners = (ring: HashRing) => new Map(keys.map((k) => [k, ring.lookup(k)!]));

  it('spreads keys evenly over the servers', () => {
    const counts = new Map<string, number>();
    for (const owner of owners(new HashRing(servers)).values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    assert.equal(counts.size, 3);
    for (const [server, n] of counts) assert.ok(n > keys.length * 0.25 && n < keys.length * 0.42, `${server} holds ${n} of ${keys.length}`);
  });

  it('moves only the keys a new server takes, and only the keys of a server that leaves', () => {
    const before = owners(new HashRing(servers));
    const grown = owners(new HashRing([...servers, '10.0.0.4:11211']));
    const moved = keys.filter((k) => before.get(k) !== grown.get(k));
    assert.ok(moved.every((k) => grown.get(k) === '10.0.0.4:11211'), 'moved keys all go to the new server');
    assert.ok(moved.length > keys.length * 0.15 && moved.length < keys.length * 0.35, `${moved.length} of ${keys.length} keys moved`);

    const shrunk = owners(new HashRing(servers.filter((s) => s !== '10.0.0.2:11211')));
    for (const k of keys) if (before.get(k) !== '10.0.0.2:11211') assert.equal(shrunk.get(k), before.get(k));
  });

  it('walks every server once, the key\'s own first, the same in every client', () => {
    const ring = new HashRing(servers);
    const walk = [...ring.walk('user:7')];
    assert.equal(walk[0], ring.lookup('user:7'));
    assert.deepEqual([...walk].sort(), [...servers].sort());
    assert.deepEqual([...new HashRing([...servers].reverse()).walk('user:7')], walk);
  });
});

describe('memcached client', () => {
  const root = mkdtempSync(join(tmpdir(), 'squadron-memcached-client-'));
  const provisioner = new MemcachedProvisioner({ perSite: 2, memoryMb: 16 });
  const spec: StorageSpec = { name: 'sessions', kind: 'memcached', service: 'web', squad: 'shop', sites: ['sto', 'gcp-eu'], primary: 'sto', sync: false };
  const ctx = { dir: join(root, 'sessions'), log: silent };
  let state: MemcachedState;
  let servers: Record<string, string[]>;
  /** The resource's login, which every one of its servers requires. */
  let login: { username: string; password: string };
  /** Addresses where nothing listens: servers that are down. */
  let dead: string[];
  const clients: MemcachedClient[] = [];
  const client = (credentials: MemcachedClientCredentials, site: string) => {
    const c = new MemcachedClient({ credentials, site, downForMs: 60_000 });
    clients.push(c);
    return c;
  };
  /** Whether `key` is cached on that one server. */
  const holds = async (server: string, key: string) => (await client({ servers: { only: [server] }, ...login }, 'only').get(key)) !== null;

  before(async () => {
    mkdirSync(ctx.dir, { recursive: true });
    state = await provisioner.create(spec, ctx);
    ({ servers, ...login } = provisioner.credentials(spec, state));
    dead = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  });

  after(async () => {
    for (const c of clients) c.close();
    if (state) await provisioner.destroy(spec, state, ctx);
    rmSync(root, { recursive: true, force: true });
  });

  it('keeps a site\'s keys on that site\'s servers, spread over them by the ring', async () => {
    const eu = client({ servers, ...login }, 'gcp-eu');
    const keys = Array.from({ length: 40 }, (_, i) => `cart:${i}`);
    for (const k of keys) await eu.set(k, `items of ${k}`);
    const used = new Set<string>();
    for (const k of keys) {
      const server = eu.serverFor(k)!;
      assert.ok(servers['gcp-eu']!.includes(server), `${k} goes to a gcp-eu server`);
      assert.equal(await holds(server, k), true, `${k} is on ${server}`);
      for (const other of [...servers.sto!, ...servers['gcp-eu']!].filter((s) => s !== server)) assert.equal(await holds(other, k), false);
      used.add(server);
      assert.equal((await eu.get(k))?.toString(), `items of ${k}`);
    }
    assert.equal(used.size, 2, 'both gcp-eu servers hold keys');
    assert.equal(await client({ servers, ...login }, 'sto').get('cart:1'), null, 'sto has its own cache');
  });

  it('expires a value after its TTL, deletes, and refuses keys and TTLs memcached would not take', async () => {
    const sto = client({ servers, ...login }, 'sto');
    await sto.set('token', 'abc', { ttlSeconds: 1 });
    assert.equal((await sto.get('token'))?.toString(), 'abc');
    await waitFor(async () => (await sto.get('token')) === null, 'the value expired', 4_000, 100);

    await sto.set('gone-soon', Buffer.from([1, 2, 3]));
    assert.deepEqual(await sto.get('gone-soon'), Buffer.from([1, 2, 3]));
    assert.equal(await sto.delete('gone-soon'), true);
    assert.equal(await sto.delete('gone-soon'), false);
    assert.equal(await sto.get('gone-soon'), null);

    const badRequest = (err: unknown) => err instanceof StorageError && err.code === 'BAD_REQUEST';
    await assert.rejects(sto.set('has space', 'x'), badRequest);
    await assert.rejects(sto.get('k'.repeat(251)), badRequest);
    await assert.rejects(sto.set('k', 'x', { ttlSeconds: 31 * 24 * 3600 }), badRequest);
    await assert.rejects(sto.set('k', 'x', { ttlSeconds: 1.5 }), badRequest);
    await assert.rejects(sto.set('big', Buffer.alloc(2 * 1024 * 1024)), (err: unknown) => badRequest(err) && /larger than an item may be/.test((err as Error).message));
  });

  it('passes over a local server that is down for the site\'s other server, not another site', async () => {
    const sto = client({ servers: { sto: [servers.sto![0]!, dead[0]!], 'gcp-eu': servers['gcp-eu']! }, ...login }, 'sto');
    for (let i = 0; i < 30; i++) await sto.set(`local:${i}`, 'v');
    for (let i = 0; i < 30; i++) {
      assert.equal(sto.serverFor(`local:${i}`), servers.sto![0]);
      assert.equal(await holds(servers.sto![0]!, `local:${i}`), true);
    }
  });

  it('falls back to the next site only when no server of its own site answers', async () => {
    const sto = client({ servers: { sto: dead, 'gcp-eu': servers['gcp-eu']! }, ...login }, 'sto');
    await sto.set('fallback', 'from sto');
    const server = sto.serverFor('fallback')!;
    assert.ok(servers['gcp-eu']!.includes(server), `served by gcp-eu (${server})`);
    assert.equal(await holds(server, 'fallback'), true);
    assert.equal((await sto.get('fallback'))?.toString(), 'from sto');
  });

  it('fails with STORAGE_UNAVAILABLE naming what it tried when no server answers, and follows new credentials', async () => {
    let credentials: MemcachedCredentials = { servers: { sto: dead }, ...login };
    const sto = client(() => credentials, 'sto');
    await assert.rejects(sto.set('k', 'v'), (err: unknown) =>
      err instanceof StorageError && err.code === 'STORAGE_UNAVAILABLE' && dead.every((d) => err.message.includes(d)));
    credentials = { servers: { sto: servers.sto! }, ...login };
    await sto.set('k', 'v');
    assert.equal((await sto.get('k'))?.toString(), 'v');
    assert.throws(() => client({ servers: {}, ...login }, 'sto'), (err: unknown) => err instanceof StorageError && err.code === 'BAD_REQUEST');
    // Credentials without the login (a resource not started since servers required one) say what to do.
    assert.throws(() => client({ servers, username: login.username, password: '' }, 'sto'), (err: unknown) =>
      err instanceof StorageError && err.code === 'BAD_REQUEST' && /username and password/.test(err.message));
  });
});

type MemcachedClientCredentials = MemcachedCredentials | (() => MemcachedCredentials);
