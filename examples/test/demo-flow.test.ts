/**
 * The music-streaming demo end to end, in one process: two site brokers (sto, gcp-eu) linked as
 * peers, the demo's real storage (users' kv store and playlists' PostgreSQL, each in both sites),
 * every example service running in sto, a second catalog and a second users in gcp-eu, and a
 * client in sto walking a listener's journey through them.
 *
 *   node --import tsx --test examples/test/demo-flow.test.ts
 *
 * Nothing here sleeps for a fixed time: whatever happens through events is polled against a
 * deadline, and "nothing else was published" is checked through ordering (a publisher's events
 * reach a subscriber in the order they were published).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '@squadron/broker';
import type pg from 'pg';
import {
  connect, runService, ErrorCode, SquadronError,
  type Client, type RunningService, type ServiceDefinition,
} from '@squadron/sdk';
import type { KvClient } from '@squadron/storage';
import { createDemoStorage, type DemoStorage } from './demo-storage.ts';
import users, { type User } from '../users/index.ts';
import playlists, { type Playlist, type PlaylistEvent } from '../playlists/index.ts';
import catalog, { type Track } from '../catalog/index.ts';
import follow from '../follow/index.ts';
import notifications, { type Notification } from '../notifications/index.ts';
import search, { type QueryResult } from '../search/index.ts';

const logger = pino({ level: 'silent' });
const SITES = ['sto', 'gcp-eu'];

/** Poll `probe` until `done` holds, backing off a little between tries; fail at the deadline. */
async function eventually<T>(what: string, probe: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    try {
      last = await probe();
      if (done(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      assert.fail(`${what}: not within ${timeoutMs} ms (last value ${JSON.stringify(last)}, last error ${String(lastError)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/** For assert.rejects: a typed Squadron error with this code. */
function code(expected: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof SquadronError, `expected a SquadronError, got ${String(err)}`);
    assert.equal(err.code, expected, err.message);
    return true;
  };
}

describe('music-streaming demo: a listener across six services and two sites', { timeout: 60_000 }, () => {
  // Brokers with a data directory: users publish user.created durably.
  const dataDir = mkdtempSync(join(tmpdir(), 'squadron-demo-flow-'));
  // Run as root, PostgreSQL runs as its own user: let it reach the storage in this folder.
  chmodSync(dataDir, 0o711);
  const sto = new Broker({ site: 'sto', sites: SITES, logger, dataDir: join(dataDir, 'sto') });
  const gcp = new Broker({ site: 'gcp-eu', sites: SITES, logger, dataDir: join(dataDir, 'gcp-eu') });
  const running: RunningService[] = [];
  let storage: DemoStorage | undefined;
  let catalogSto: RunningService;
  let playlistsSvc: RunningService;
  let usersGcp: RunningService;
  let client: Client;
  /** playlist.created / playlist.updated as the test's own subscriber saw them, in arrival order. */
  const seen: Array<{ topic: string } & PlaylistEvent> = [];

  let ada: User;
  let roadTrip: Playlist;
  let openRoad: Track;
  let secondTrack: Track;

  async function start(def: ServiceDefinition, site: 'sto' | 'gcp-eu'): Promise<RunningService> {
    const svc = await runService(def, { site, broker: site === 'sto' ? sto.address : gcp.address, logger, storage: storage!.holderFor(def.name) });
    running.push(svc);
    return svc;
  }

  before(async () => {
    // PostgreSQL takes a few seconds per site: made while the brokers start.
    const made = createDemoStorage(join(dataDir, 'storage'));
    const stoAddress = await sto.start();
    const gcpAddress = await gcp.start();
    storage = await made;
    sto.setPeers({ 'gcp-eu': gcpAddress });
    gcp.setPeers({ sto: stoAddress });

    catalogSto = await start(catalog, 'sto');
    await start(catalog, 'gcp-eu');
    await start(users, 'sto');
    usersGcp = await start(users, 'gcp-eu');
    playlistsSvc = await start(playlists, 'sto');
    await start(follow, 'sto');
    await start(notifications, 'sto');
    await start(search, 'sto');

    client = await connect({ site: 'sto', broker: stoAddress, name: 'demo-flow-test', logger });
    for (const name of ['playlists', 'follow', 'notifications', 'search']) await client.waitForInstances(name, 1);
    await client.waitForInstances('catalog', 2);
    await client.waitForInstances('users', 2);
    // playlists must know the gcp-eu catalog too before the failover step takes sto's away.
    await playlistsSvc.client.waitForInstances('catalog', 2);

    const record = (msg: unknown, ctx: { topic: string }) => void seen.push({ topic: ctx.topic, ...(msg as PlaylistEvent) });
    client.subscribe('playlist.created', record, { group: 'demo-flow-test' });
    client.subscribe('playlist.updated', record, { group: 'demo-flow-test' });
    // The subscriptions are in place once the sto broker lists the group for both topics.
    await eventually('test subscriptions at the sto broker', () => sto.stats().subscriptions,
      (subs) => subs.filter((s) => s.group === 'demo-flow-test' && s.members > 0).length === 2);
  });

  after(async () => {
    // The pool would hold the process open until its idle connections time out.
    await playlistsSvc?.client.storage<pg.Pool>('playlists').then((pool) => pool.end()).catch(() => {});
    await Promise.allSettled(running.map((s) => s.stop()));
    await client?.close();
    await Promise.allSettled([sto.stop(), gcp.stop()]);
    await storage?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every service has its subscriptions at its site broker and catalog runs in both sites', () => {
    const groups = new Set(sto.stats().subscriptions.filter((s) => s.members > 0).map((s) => `${s.group}:${s.topic}`));
    // (notifications' user.created subscription is durable: a queue at the broker, not a group)
    for (const g of ['notifications:playlist.created', 'notifications:artist.followed',
      'search:playlist.created', 'search:playlist.updated']) {
      assert.ok(groups.has(g), `sto broker lacks subscription ${g}`);
    }
    assert.deepEqual(client.instances('catalog').map((i) => i.site).sort(), ['gcp-eu', 'sto']);
  });

  it('creates a user, who gets a welcome notification', async () => {
    ada = await client.call<User>('users', 'create', { name: 'Ada' });
    assert.match(ada.id, /^u\d+-sto$/, 'the n-th listener created through sto');
    assert.equal(ada.name, 'Ada');
    assert.deepEqual(await client.call<User>('users', 'get', { id: ada.id }), ada);
    await eventually('welcome notification',
      () => client.call<{ items: Notification[] }>('notifications', 'inbox', { user: ada.id }),
      (r) => r.items.some((n) => n.kind === 'user.created'));
  });

  it('a user created through one site is read through the other (kv replication)', async () => {
    // Read by the gcp-eu instance, from gcp-eu's replica: the write was made in sto.
    const read = await eventually('ada at gcp-eu',
      () => client.call<User>('users', 'get', { id: ada.id }, { site: 'gcp-eu' }), (u) => u.id === ada.id, 2000);
    assert.deepEqual(read, ada);
    assert.equal((await usersGcp.client.storage<KvClient>('users')).lastSite, 'gcp-eu', "answered by gcp-eu's users, from gcp-eu's kv server");

    // And the other way; each site numbers its own listeners, so the ids never collide.
    const lin = await client.call<User>('users', 'create', { name: 'Lin' }, { site: 'gcp-eu' });
    assert.match(lin.id, /^u\d+-gcp-eu$/);
    assert.deepEqual(await eventually('lin at sto', () => client.call<User>('users', 'get', { id: lin.id }), (u) => u.id === lin.id, 2000), lin);
  });

  it('creates a playlist with a track found in the catalog', async () => {
    const found = await client.call<{ tracks: Track[] }>('catalog', 'search', { q: 'open road' });
    assert.ok(found.tracks[0], 'catalog has "Open Road"');
    openRoad = found.tracks[0];
    roadTrip = await client.call<Playlist>('playlists', 'create', { owner: ada.id, title: 'Road trip', tracks: [openRoad.id] });
    assert.equal(roadTrip.owner, ada.id);
    assert.deepEqual(roadTrip.tracks, [openRoad.id]);
    assert.equal(roadTrip.version, 1);
  });

  it('adds a track', async () => {
    secondTrack = await client.call<Track>('catalog', 'track', { id: 't30' });
    const updated = await client.call<Playlist>('playlists', 'addTrack', { playlistId: roadTrip.id, trackId: secondTrack.id });
    assert.deepEqual(updated.tracks, [openRoad.id, secondTrack.id]);
    assert.equal(updated.version, 2);
    assert.deepEqual(await client.call<Playlist>('playlists', 'get', { id: roadTrip.id }), updated);
    roadTrip = updated;
  });

  it('search finds the playlist (indexed from events) next to the catalog track', async () => {
    const result = await eventually('playlist in the search index at version 2',
      () => client.call<QueryResult>('search', 'query', { q: 'road' }),
      (r) => r.playlists.some((p) => p.id === roadTrip.id && p.version === 2));
    assert.equal(result.partial, false);
    assert.ok(result.tracks.some((t) => t.id === openRoad.id), 'catalog part of the merge has "Open Road"');
    assert.deepEqual(result.playlists.find((p) => p.id === roadTrip.id)?.tracks, [openRoad.id, secondTrack.id]);
  });

  it("the owner's inbox shows the playlist-created notification", async () => {
    const inbox = await eventually('playlist.created notification',
      () => client.call<{ items: Notification[] }>('notifications', 'inbox', { user: ada.id }),
      (r) => r.items.some((n) => n.kind === 'playlist.created' && n.ref === roadTrip.id));
    assert.equal(inbox.items[0]?.kind, 'playlist.created', 'newest first');
    assert.match(inbox.items[0]?.text ?? '', /Road trip/);
  });

  it('invalid input is BAD_REQUEST and writes nothing', async () => {
    const before = await client.call<{ playlists: Playlist[] }>('playlists', 'list', { owner: ada.id });
    assert.deepEqual(before.playlists.map((p) => p.id), [roadTrip.id]);

    // Unknown track on add: refused after the catalog said no; the playlist is untouched.
    await assert.rejects(client.call('playlists', 'addTrack', { playlistId: roadTrip.id, trackId: 'no-such-track' }), code(ErrorCode.BAD_REQUEST));
    assert.deepEqual(await client.call<Playlist>('playlists', 'get', { id: roadTrip.id }), roadTrip);

    // A create whose second track is unknown creates nothing, not a playlist holding the first.
    await assert.rejects(
      client.call('playlists', 'create', { owner: ada.id, title: 'Half made', tracks: [openRoad.id, 'no-such-track'] }),
      code(ErrorCode.BAD_REQUEST));
    await assert.rejects(client.call('playlists', 'create', { owner: 'u-nobody', title: 'Orphan' }), code(ErrorCode.BAD_REQUEST));
    await assert.rejects(client.call('playlists', 'create', { owner: ada.id, title: '   ' }), code(ErrorCode.BAD_REQUEST));
    await assert.rejects(client.call('playlists', 'create', { owner: ada.id, title: 'x', tracks: 'not-a-list' }), code(ErrorCode.BAD_REQUEST));
    await assert.rejects(client.call('playlists', 'addTrack', { playlistId: 'p-nope', trackId: openRoad.id }), code(ErrorCode.BAD_REQUEST));
    await assert.rejects(client.call('search', 'query', { q: '' }), code(ErrorCode.BAD_REQUEST));
    await assert.rejects(client.call('users', 'create', {}), code(ErrorCode.BAD_REQUEST));

    const after = await client.call<{ playlists: Playlist[] }>('playlists', 'list', { owner: ada.id });
    assert.deepEqual(after.playlists, before.playlists);
  });

  it('following an artist is idempotent and notifies the follower once', async () => {
    const artist = openRoad.artistId;
    assert.equal((await client.call<{ created: boolean }>('follow', 'follow', { user: ada.id, artist })).created, true);
    assert.equal((await client.call<{ created: boolean }>('follow', 'follow', { user: ada.id, artist })).created, false);
    await assert.rejects(client.call('follow', 'follow', { user: ada.id, artist: 'a-nope' }), code(ErrorCode.BAD_REQUEST));
    assert.deepEqual(await client.call('follow', 'followers', { artist }), { artist, count: 1, users: [ada.id] });
    await eventually('artist.followed notification',
      () => client.call<{ items: Notification[] }>('notifications', 'inbox', { user: ada.id }),
      (r) => r.items.some((n) => n.kind === 'artist.followed' && n.ref === artist));
  });

  it("keeps working from gcp-eu's catalog when sto's stops", async () => {
    await catalogSto.stop();
    await eventually('sto catalog gone from the view', () => client.instances('catalog'), (list) => list.every((i) => i.site === 'gcp-eu'));
    const updated = await client.call<Playlist>('playlists', 'addTrack', { playlistId: roadTrip.id, trackId: 't1' });
    assert.equal(updated.version, 3);
    const result = await eventually('playlist at version 3 in the search index',
      () => client.call<QueryResult>('search', 'query', { q: 'road' }),
      (r) => r.playlists.some((p) => p.id === roadTrip.id && p.version === 3));
    assert.equal(result.partial, false, 'the catalog part came from gcp-eu');
  });

  it('published exactly one event per successful change, none for the refused ones', async () => {
    // Events from one publisher arrive in order, so once version 3 is here nothing earlier is missing.
    await eventually('playlist.updated version 3 at the test subscriber', () => seen, (s) => s.some((e) => e.version === 3));
    assert.deepEqual(seen.map((e) => [e.topic, e.id, e.version]), [
      ['playlist.created', roadTrip.id, 1],
      ['playlist.updated', roadTrip.id, 2],
      ['playlist.updated', roadTrip.id, 3],
    ]);
  });
});
