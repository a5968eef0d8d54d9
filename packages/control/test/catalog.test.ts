import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ErrorBody, ServiceBody, AuditBody, CreatedSquadBody } from '@squadron/client';
import { WORKER_DIR } from '@squadron/testkit';
import { STORES, startControl, type TestControl } from './harness.ts';

for (const store of STORES) {
  describe(`catalog and auth (${store} state store)`, () => {
    let c: TestControl;
    let music: CreatedSquadBody;
    let video: CreatedSquadBody;
    const call = (method: 'GET' | 'POST' | 'DELETE', url: string, token: string | null, payload?: unknown) =>
      c.app.inject({ method, url, ...(token ? { headers: c.as(token) } : {}), ...(payload !== undefined ? { payload: payload as object } : {}) });
    const errorOf = (res: { json(): unknown }) => (res.json() as ErrorBody).error;
    const auditCount = async () => ((await call('GET', '/v1/audit?limit=1000', c.adminToken)).json() as { entries: AuditBody[] }).entries.length;

    before(async () => {
      c = await startControl(store, `catalog_${store}`);
      music = (await call('POST', '/v1/squads', c.adminToken, { name: 'music' })).json() as CreatedSquadBody;
      video = (await call('POST', '/v1/squads', c.adminToken, { name: 'video' })).json() as CreatedSquadBody;
    });
    after(async () => c.close());

    it('refuses a missing or wrong token with 401 and the JSON error body', async () => {
      for (const token of [null, 'sqs_not-a-real-token']) {
        const res = await call('GET', '/v1/services', token);
        assert.equal(res.statusCode, 401);
        assert.equal(errorOf(res).code, 'UNAUTHENTICATED');
      }
      const malformed = await c.app.inject({ url: '/v1/services', headers: { authorization: 'Basic abc' } });
      assert.equal(malformed.statusCode, 401);
    });

    it('shows a squad its token once, keeps only a hash, and knows who it is', async () => {
      assert.match(music.token, /^sqs_/);
      const who = (await call('GET', '/v1/whoami', music.token)).json();
      assert.deepEqual(who, { kind: 'squad', name: 'music' });
      const listed = (await call('GET', '/v1/squads', video.token)).body;
      assert.ok(!listed.includes(music.token), 'no token in the squad list');
      const again = await call('POST', '/v1/squads', c.adminToken, { name: 'music' });
      assert.equal(again.statusCode, 409);
      const bySquad = await call('POST', '/v1/squads', music.token, { name: 'rogue' });
      assert.equal(bySquad.statusCode, 403);
    });

    it('lets a squad create services for itself only; every squad reads all of them', async () => {
      const own = await call('POST', '/v1/services', music.token, { name: 'playlists', squad: 'music', repo: 'https://git.example/music/playlists', description: 'lists of tracks' });
      assert.equal(own.statusCode, 201, own.body);
      const foreign = await call('POST', '/v1/services', music.token, { name: 'clips', squad: 'video' });
      assert.equal(foreign.statusCode, 403);
      assert.equal(errorOf(foreign).code, 'FORBIDDEN');
      const byAdmin = await call('POST', '/v1/services', c.adminToken, { name: 'clips', squad: 'video' });
      assert.equal(byAdmin.statusCode, 201);
      const shown = (await call('GET', '/v1/services/playlists', video.token)).json() as ServiceBody;
      assert.equal(shown.squad, 'music');
      assert.equal(shown.repo, 'https://git.example/music/playlists');
      assert.equal(shown.release, null);
      const list = (await call('GET', '/v1/services', video.token)).json() as { services: ServiceBody[] };
      assert.deepEqual(list.services.map((s) => s.name), ['clips', 'playlists']);
    });

    it('only the owner squad changes a service: another squad gets 403 and nothing happens', async () => {
      const before = await auditCount();
      for (const [method, url, body] of [
        ['POST', '/v1/services/playlists/releases', { path: WORKER_DIR, sites: ['sto'], instances: 1 }],
        ['POST', '/v1/services/playlists/scale', { instances: 3 }],
        ['POST', '/v1/services/playlists/rollback', {}],
        ['DELETE', '/v1/services/playlists/deployment', undefined],
      ] as const) {
        const res = await call(method, url, video.token, body);
        assert.equal(res.statusCode, 403, `${method} ${url}: ${res.body}`);
        assert.match(errorOf(res).message, /belongs to squad 'music'/);
      }
      assert.equal(await auditCount(), before);
      assert.equal(((await call('GET', '/v1/services/playlists/releases', c.adminToken)).json() as { releases: unknown[] }).releases.length, 0);
    });

    it('refuses invalid input whole with 400 naming every failing field, and writes nothing', async () => {
      const before = await auditCount();
      const cases: Array<[string, unknown, string[]]> = [
        ['/v1/services', { name: 'Bad Name', squad: 'music', extra: 1 }, ['/name', '/extra']],
        ['/v1/services', { squad: 'music' }, ['/name']],
        ['/v1/services', { name: 'ok-name', squad: 'music', repo: 'not a url' }, ['/repo']],
        ['/v1/services/playlists/releases', { path: '', sites: [], instances: '2' }, ['/path', '/sites', '/instances']],
        ['/v1/services/playlists/releases', { path: WORKER_DIR, sites: ['mars'], instances: 1 }, ['/sites']],
      ];
      for (const [url, body, fields] of cases) {
        const res = await call('POST', url, c.adminToken, body);
        assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(body)}: ${res.body}`);
        const e = errorOf(res);
        assert.equal(e.code, 'BAD_REQUEST');
        assert.deepEqual([...new Set((e.fields ?? []).map((f) => f.path))].sort(), [...fields].sort(), JSON.stringify(e));
      }
      const notJson = await c.app.inject({ method: 'POST', url: '/v1/services', headers: { ...c.as(c.adminToken), 'content-type': 'application/json' }, payload: '{"name":' });
      assert.equal(notJson.statusCode, 400);
      assert.equal(errorOf(notJson).code, 'BAD_REQUEST');
      assert.equal(await auditCount(), before);
      const list = (await call('GET', '/v1/services', c.adminToken)).json() as { services: ServiceBody[] };
      assert.deepEqual(list.services.map((s) => s.name), ['clips', 'playlists']);
    });

    it('refuses a deploy where no agent runs, and records nothing', async () => {
      const res = await call('POST', '/v1/services/playlists/releases', music.token, { path: WORKER_DIR, sites: ['sto'], instances: 1 });
      assert.equal(res.statusCode, 409);
      assert.equal(errorOf(res).code, 'NO_CAPACITY');
      assert.match(errorOf(res).message, /no agent is running in site 'sto'/);
      assert.equal(((await call('GET', '/v1/services/playlists', music.token)).json() as ServiceBody).release, null);
    });

    it('records who changed what, and when, newest first', async () => {
      const t0 = Date.now();
      await call('POST', '/v1/services', music.token, { name: 'radio', squad: 'music' });
      const { entries } = (await call('GET', '/v1/audit?target=service:radio', video.token)).json() as { entries: AuditBody[] };
      assert.equal(entries.length, 1);
      assert.equal(entries[0]!.actor, 'squad:music');
      assert.equal(entries[0]!.action, 'service.create');
      assert.ok(entries[0]!.at >= t0 && entries[0]!.at <= Date.now());
      const all = (await call('GET', '/v1/audit', c.adminToken)).json() as { entries: AuditBody[] };
      assert.deepEqual(all.entries.slice(-2).map((e) => [e.action, e.target]), [['squad.create', 'squad:video'], ['squad.create', 'squad:music']]);
    });
  });
}

describe('OpenAPI document', () => {
  it('is served without a token and describes every route with its schema', async () => {
    const c = await startControl('sqlite', 'openapi');
    try {
      const res = await c.app.inject('/openapi.json');
      assert.equal(res.statusCode, 200);
      const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { responses?: object; requestBody?: object }>> };
      assert.match(doc.openapi, /^3\./);
      const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
      for (const route of ['POST /v1/squads', 'GET /v1/services', 'POST /v1/services/{name}/releases', 'POST /v1/services/{name}/scale',
        'POST /v1/services/{name}/rollback', 'DELETE /v1/services/{name}/deployment', 'GET /v1/services/{name}/instances', 'GET /v1/audit',
        'POST /v1/agents', 'GET /v1/agents/{id}/assignments', 'POST /v1/agents/{id}/report', 'GET /v1/sites']) {
        assert.ok(documented.includes(route), `${route} is documented (have: ${documented.join(', ')})`);
      }
      const deploy = doc.paths['/v1/services/{name}/releases']!.post!;
      assert.ok(deploy.requestBody, 'deploy documents its body');
      assert.ok((deploy.responses as Record<string, unknown>)['409'], 'deploy documents its conflict answer');
    } finally {
      await c.close();
    }
  });
});
