import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ErrorBody, AuditBody, CreatedSquadBody, ServicePolicyBody, PoliciesBody } from '@squadron/client';
import { STORES, startControl, type TestControl } from './harness.ts';

for (const store of STORES) {
  describe(`access policies through the API (${store} state store)`, () => {
    let c: TestControl;
    let music: CreatedSquadBody;
    let video: CreatedSquadBody;
    const call = (method: 'GET' | 'PUT' | 'DELETE', url: string, token: string, payload?: unknown) =>
      c.app.inject({ method, url, headers: c.as(token), ...(payload !== undefined ? { payload: payload as object } : {}) });
    const policy = async () => (await call('GET', '/v1/services/playlists/policy', video.token)).json() as ServicePolicyBody;
    const audit = async () => ((await call('GET', '/v1/audit?target=service:playlists', c.adminToken)).json() as { entries: AuditBody[] }).entries;

    before(async () => {
      c = await startControl(store, `access_${store}`);
      music = (await c.app.inject({ method: 'POST', url: '/v1/squads', headers: c.as(c.adminToken), payload: { name: 'music' } })).json() as CreatedSquadBody;
      video = (await c.app.inject({ method: 'POST', url: '/v1/squads', headers: c.as(c.adminToken), payload: { name: 'video' } })).json() as CreatedSquadBody;
      for (const [name, squad] of [['playlists', 'music'], ['clips', 'video']]) {
        await c.app.inject({ method: 'POST', url: '/v1/services', headers: c.as(c.adminToken), payload: { name, squad } });
      }
    });
    after(async () => c.close());

    it('starts open with no rules, at the default threshold', async () => {
      assert.deepEqual(await policy(), {
        service: 'playlists', squad: 'music', access: 'open', grants: [], denies: [], topics: [], queues: [], defaultRate: { ratePerSecond: 50, burst: 100 },
      });
    });

    it('lets the owner squad restrict, grant, deny and revoke, each audited, and the set\'s version follows', async () => {
      const first = (await call('GET', '/v1/policies', video.token)).json() as PoliciesBody & { changed: true };
      assert.equal(first.changed, true);
      assert.deepEqual((await call('GET', `/v1/policies?since=${first.version}`, video.token)).json(), { changed: false, version: first.version });

      assert.equal((await call('PUT', '/v1/services/playlists/access', music.token, { access: 'restricted' })).statusCode, 200);
      const granted = await call('PUT', '/v1/services/playlists/grants/clips', music.token, { methods: ['get'], ratePerSecond: 500 });
      assert.equal(granted.statusCode, 200, granted.body);
      assert.equal((await call('PUT', '/v1/services/playlists/grants/squad%3Avideo', music.token, { subscribe: ['playlist.created'] })).statusCode, 200);
      assert.equal((await call('PUT', '/v1/services/playlists/denies/clips', music.token, { methods: ['delete'] })).statusCode, 200);
      const p = await policy();
      assert.equal(p.access, 'restricted');
      assert.deepEqual(p.grants, [
        { caller: 'clips', methods: ['get'], rate: { ratePerSecond: 500, burst: 1000 }, publish: [], subscribe: [], consume: [] },
        { caller: 'squad:video', methods: [], rate: null, publish: [], subscribe: ['playlist.created'], consume: [] },
      ]);
      assert.deepEqual(p.denies, [{ caller: 'clips', methods: ['delete'] }]);
      const changed = (await call('GET', `/v1/policies?since=${first.version}`, video.token)).json() as PoliciesBody & { changed: true };
      assert.equal(changed.changed, true);
      assert.notEqual(changed.version, first.version);
      assert.deepEqual(changed.services.playlists, { squad: 'music', access: p.access, grants: p.grants, denies: p.denies, topics: [], queues: [] });

      // Granting again replaces the grant; revoke removes every rule naming the caller.
      await call('PUT', '/v1/services/playlists/grants/clips', music.token, { methods: ['get', 'list'] });
      assert.deepEqual((await policy()).grants.find((g) => g.caller === 'clips'), { caller: 'clips', methods: ['get', 'list'], rate: null, publish: [], subscribe: [], consume: [] });
      assert.equal((await call('DELETE', '/v1/services/playlists/rules/clips', music.token)).statusCode, 200);
      const after = await policy();
      assert.deepEqual([after.grants.map((g) => g.caller), after.denies], [['squad:video'], []]);
      assert.equal((await call('DELETE', '/v1/services/playlists/rules/clips', music.token)).statusCode, 404, 'nothing left to revoke');
      assert.deepEqual((await audit()).map((e) => e.action).reverse(), ['service.create', 'access.set', 'access.grant', 'access.grant', 'access.deny', 'access.grant', 'access.revoke']);
      assert.ok((await audit()).filter((e) => e.action.startsWith('access.')).every((e) => e.actor === 'squad:music'));
    });

    it('makes a grant with a rate or burst and no methods cover every method, topics beside it or not', async () => {
      const grantClips = async (payload: object) => {
        const r = await call('PUT', '/v1/services/playlists/grants/clips', music.token, payload);
        assert.equal(r.statusCode, 200, r.body);
        return (r.json() as ServicePolicyBody).grants.find((g) => g.caller === 'clips')?.methods;
      };
      assert.equal(await grantClips({ ratePerSecond: 2000 }), null);
      assert.equal(await grantClips({ ratePerSecond: 2000, subscribe: ['playlist.created'] }), null, 'a rate beside a topic still covers every method');
      const stored = await c.db.query<{ methods: string | null }>("SELECT methods FROM access_rules WHERE service = 'playlists' AND caller = 'clips'");
      assert.deepEqual(stored, [{ methods: null }], 'stored as every method');
      assert.equal(await grantClips({ burst: 500, publish: ['playlist.created'] }), null);
      assert.deepEqual(await grantClips({ subscribe: ['playlist.created'] }), [], 'a topic alone covers no method');
      // A grant with a rate stored with no methods, as the control plane once stored the one above, is read as every method.
      await c.db.query("UPDATE access_rules SET rate = 2000, burst = 4000 WHERE service = 'playlists' AND caller = 'clips'");
      assert.equal((await policy()).grants.find((g) => g.caller === 'clips')?.methods, null);
      assert.equal((await call('DELETE', '/v1/services/playlists/rules/clips', music.token)).statusCode, 200);
    });

    it('refuses another squad (403), unknown callers (404) and bad input (400), and writes nothing', async () => {
      const before = { policy: await policy(), audit: (await audit()).length };
      const foreign = await call('PUT', '/v1/services/playlists/access', video.token, { access: 'open' });
      assert.equal(foreign.statusCode, 403);
      assert.match((foreign.json() as ErrorBody).error.message, /belongs to squad 'music'/);
      assert.equal((await call('PUT', '/v1/services/playlists/grants/clips', video.token, {})).statusCode, 403);
      const unknown = await call('PUT', '/v1/services/playlists/grants/nobody', music.token, {});
      assert.equal(unknown.statusCode, 404);
      assert.equal((await call('PUT', '/v1/services/playlists/grants/squad%3Anobody', music.token, {})).statusCode, 404);
      const bad = await call('PUT', '/v1/services/playlists/grants/clips', music.token, { methods: [], ratePerSecond: 0, burst: 1.5, extra: true });
      assert.equal(bad.statusCode, 400);
      assert.deepEqual((bad.json() as ErrorBody).error.fields?.map((f) => f.path).sort(), ['/burst', '/extra', '/methods', '/ratePerSecond'], 'every failing field is named');
      assert.equal((await call('PUT', '/v1/services/playlists/access', music.token, { access: 'closed' })).statusCode, 400);
      assert.equal((await call('PUT', '/v1/services/playlists/grants/Bad%20Name', music.token, {})).statusCode, 400);
      assert.deepEqual({ policy: await policy(), audit: (await audit()).length }, before, 'nothing was written');
    });
  });
}
