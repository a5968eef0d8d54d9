import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceBody, StatusBody } from '@squadron/client';
import { squadron, startSquadron, waitFor, alive, type LiveCommand } from '@squadron/testkit';

describe('squadron up --demo (what npm start runs)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'squadron-demo-'));
  const env = { SQUADRON_DATA_DIR: dataDir, SQUADRON_LOG_LEVEL: 'warn' };
  let up: LiveCommand | undefined;

  after(async () => {
    await up?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs every demo service in both sites, answers calls, and stops cleanly on SIGINT', async () => {
    up = startSquadron(['up', '--demo', '--port', '0'], env);
    await up.waitFor(/squadron ready/, 90_000);
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

    const user = await squadron(['call', 'users', 'create', '{"name":"ada"}'], env);
    assert.equal(user.code, 0, user.stderr);
    const { id } = JSON.parse(user.stdout) as { id: string };
    const playlist = await squadron(['call', 'playlists', 'create', JSON.stringify({ owner: id, title: 'Road trip', tracks: ['t1'] })], env);
    assert.equal(playlist.code, 0, playlist.stderr);

    const pids = status.services.flatMap((s) => s.instances.map((i) => i.pid));
    assert.equal(await up.stop('SIGINT'), 0);
    await waitFor(() => pids.every((pid) => !alive(pid)), 'every demo process to exit', 10_000);
  });
});
