import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { AuditBody, CreatedSquadBody, ErrorBody, ReleaseBody } from '@squadron/client';
import { WORKER_DIR } from '@squadron/testkit';
import { STORES, startControl, type TestControl } from './harness.ts';

/**
 * A deploy names the folder the agents start the service from. The API refuses a path that is
 * not a readable folder (missing, a file, relative, through a file, a pipe) with 400 naming
 * `/path`, and writes nothing: no release, no audit entry. Before, it answered 201 and the
 * instances crash-looped. Over real HTTP, as the owner squad, on both stores.
 */
for (const store of STORES) {
  describe(`deploy refuses a path that is not a folder (${store} state store)`, () => {
    let c: TestControl;
    let url = '';
    let music: CreatedSquadBody;
    const dir = mkdtempSync(join(tmpdir(), 'squadron-release-folder-'));
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const releases = async () => ((await call('GET', '/v1/services/playlists/releases', c.adminToken)).body as { releases: ReleaseBody[] }).releases;
    const audit = async () => ((await call('GET', '/v1/audit?limit=1000', c.adminToken)).body as { entries: AuditBody[] }).entries;

    before(async () => {
      c = await startControl(store, `release_folder_${store}`, undefined, 60_000);
      url = await c.app.listen({ host: '127.0.0.1', port: 0 });
      music = (await call('POST', '/v1/squads', c.adminToken, { name: 'music' })).body as CreatedSquadBody;
      await call('POST', '/v1/services', music.token, { name: 'playlists', squad: 'music' });
      // An agent in the cloud site: a deploy to it would be accepted, so only the path can refuse it.
      await call('POST', '/v1/agents', c.adminToken, { site: 'gcp-eu', host: 'agent-1' });
      writeFileSync(join(dir, 'index.mjs'), 'export default {};\n');
      mkdirSync(join(dir, 'small'));
      writeFileSync(join(dir, 'small', 'index.mjs'), 'export default {};\n');
      execFileSync('mkfifo', [join(dir, 'pipe')]);
    });
    after(async () => {
      await c?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('answers 400 naming /path for each, and writes no release and no audit entry', async () => {
      const auditBefore = (await audit()).length;
      const cases: Array<[string, RegExp]> = [
        [join(dir, 'missing'), /does not exist/],
        [join(dir, 'index.mjs'), /is not a folder/],
        [join(dir, 'pipe'), /is not a folder/],
        [join(dir, 'index.mjs', 'below'), /does not exist/],
        ['relative/folder', /is not an absolute path/],
      ];
      for (const [path, why] of cases) {
        const res = await call('POST', '/v1/services/playlists/releases', music.token, { path, sites: ['gcp-eu'], instances: 1 });
        assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
        const { error } = res.body as ErrorBody;
        assert.equal(error.code, 'BAD_REQUEST');
        assert.deepEqual(error.fields?.map((f) => f.path), ['/path'], path);
        assert.match(error.fields![0]!.message, why);
        assert.match(error.message, /absolute path of the service folder/);
      }
      assert.deepEqual(await releases(), []);
      assert.equal((await audit()).length, auditBefore);
    });

    it('refuses the platform\'s data directory, a folder inside it and one that holds it: a release is what its instances may read', async () => {
      mkdirSync(join(c.dataDir, 'storage'), { recursive: true });
      for (const path of [c.dataDir, join(c.dataDir, 'storage'), '/']) {
        const res = await call('POST', '/v1/services/playlists/releases', music.token, { path, sites: ['gcp-eu'], instances: 1 });
        assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
        assert.match((res.body as ErrorBody).error.fields![0]!.message, /data directory/);
      }
      assert.deepEqual(await releases(), []);
    });

    it('names every failing field at once: an unknown site and a path that is not a folder', async () => {
      const res = await call('POST', '/v1/services/playlists/releases', music.token, { path: join(dir, 'missing'), sites: ['mars'], instances: 1 });
      assert.equal(res.status, 400);
      assert.deepEqual((res.body as ErrorBody).error.fields?.map((f) => f.path).sort(), ['/path', '/sites']);
      assert.deepEqual(await releases(), []);
    });

    it('takes a folder: the same request with a real one is recorded', async () => {
      for (const path of [WORKER_DIR, join(dir, 'small')]) {
        const res = await call('POST', '/v1/services/playlists/releases', music.token, { path, sites: ['gcp-eu'], instances: 1 });
        assert.equal(res.status, 201, JSON.stringify(res.body));
      }
      assert.equal((await releases()).length, 2);
    });
  });
}
