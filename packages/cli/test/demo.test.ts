import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceBody, StatusBody, StorageBody } from '@squadron/client';
import { squadron, startSquadron, waitFor, alive, type LiveCommand } from '@squadron/testkit';

describe('squadron up --demo (what npm start runs)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'squadron-demo-'));
  // Run as root, PostgreSQL runs as its own user: let it reach the demo's storage in this folder,
  // so that removing the folder removes the databases too.
  chmodSync(dataDir, 0o711);
  const env = { SQUADRON_DATA_DIR: dataDir, SQUADRON_LOG_LEVEL: 'warn' };
  let up: LiveCommand | undefined;

  after(async () => {
    await up?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs every demo service in both sites with its storage, answers calls, and stops cleanly on SIGINT', async () => {
    up = startSquadron(['up', '--demo', '--port', '0'], env);
    await up.waitFor(/squadron ready/, 90_000);
    assert.match(up.stdout(), /storage playlists: ready/, 'progress while the storage is made');
    const status = JSON.parse((await squadron(['status', '--json'], env)).stdout) as StatusBody;
    const services = status.services.map((s) => s.name).sort();
    assert.deepEqual(services, ['catalog', 'follow', 'notifications', 'playlists', 'search', 'users']);
    for (const s of status.services) assert.deepEqual(s.instances.map((i) => i.site).sort(), ['gcp-eu', 'sto'], s.name);

    // Made through the API as a squad's own changes would be: owners from squads.yaml, a release each, audited.
    const catalog = JSON.parse((await squadron(['services', 'list', '--json'], env)).stdout) as { services: ServiceBody[] };
    assert.deepEqual(catalog.services.map((s) => [s.name, s.squad, s.release]), [
      ['catalog', 'catalog', 1], ['follow', 'social', 1], ['notifications', 'engagement', 1],
      ['playlists', 'collections', 1], ['search', 'discovery', 1], ['users', 'identity', 1],
    ]);
    const audit = JSON.parse((await squadron(['audit', '--json'], env)).stdout) as { entries: Array<{ action: string }> };
    assert.equal(audit.entries.filter((e) => e.action === 'service.deploy').length, 6);

    // The storage squads.yaml declares, made through the API before the services that own it.
    const storage = JSON.parse((await squadron(['storage', 'list', '--json'], env)).stdout) as { storage: StorageBody[] };
    assert.deepEqual(storage.storage.map((s) => [s.name, s.kind, s.service, s.sites, s.primary, s.sync, s.status]), [
      ['playlists', 'postgres', 'playlists', ['sto', 'gcp-eu'], 'sto', true, 'ready'],
      ['users', 'kv', 'users', ['sto', 'gcp-eu'], 'sto', false, 'ready'],
    ]);

    const user = await squadron(['call', 'users', 'create', '{"name":"ada"}'], env);
    assert.equal(user.code, 0, user.stderr);
    const { id } = JSON.parse(user.stdout) as { id: string };
    const playlist = await squadron(['call', 'playlists', 'create', JSON.stringify({ owner: id, title: 'Road trip', tracks: ['t1'] })], env);
    assert.equal(playlist.code, 0, playlist.stderr);
    // Kept in the kv store's sto replica, read from gcp-eu's; the playlist from the primary, through gcp-eu's instance.
    const there = await waitFor(async () => {
      const r = await squadron(['call', 'users', 'get', JSON.stringify({ id }), '--site', 'gcp-eu'], env);
      return r.code === 0 ? JSON.parse(r.stdout) as { id: string } : null;
    }, 'the user in gcp-eu', 5000, 50);
    assert.equal(there.id, id);
    const { id: playlistId } = JSON.parse(playlist.stdout) as { id: string };
    const read = await squadron(['call', 'playlists', 'get', JSON.stringify({ id: playlistId }), '--site', 'gcp-eu'], env);
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual((JSON.parse(read.stdout) as { tracks: string[] }).tracks, ['t1']);

    const pids = status.services.flatMap((s) => s.instances.map((i) => i.pid));
    assert.equal(await up.stop('SIGINT'), 0);
    await waitFor(() => pids.every((pid) => !alive(pid)), 'every demo process to exit', 10_000);
  });
});
