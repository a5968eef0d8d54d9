import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditBody, CreatedSquadBody, InstanceRecordBody, PoliciesBody, RegisteredAgentBody, ServiceBody, ServiceInterfaceBody } from '@squadron/client';
import { WORKER_DIR } from '@squadron/testkit';
import { STORES, startControl, type TestControl } from './harness.ts';

/**
 * A topic or queue has one owner: the service that claimed it first, recorded in the state
 * store. A hostile squad whose service "publishes" another squad's topic (or consumes its queue,
 * or the queue of its durable subscription) gets no rights: the policy set the brokers enforce
 * lists the name under its owner only, the hostile service's API body says why, and the refusal
 * is audited. Another service of the owner's squad shares the claim. Interfaces arrive the way
 * they do in production: in an agent's report of a ready instance. Over real HTTP, on both stores.
 */
for (const store of STORES) {
  describe(`topic and queue claims (${store} state store)`, () => {
    let c: TestControl;
    let url = '';
    let agent = '';
    const squads: Record<string, CreatedSquadBody> = {};
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const policies = async (token: string) => (await call('GET', '/v1/policies', token)).body as PoliciesBody & { changed: true };
    const service = async (name: string, token: string) => (await call('GET', `/v1/services/${name}`, token)).body as ServiceBody;

    /** Deploy `name` and have the agent report its instance ready, running code that declares `iface`. */
    const runs = async (name: string, token: string, iface: Partial<ServiceInterfaceBody>) => {
      assert.equal((await call('POST', `/v1/services/${name}/releases`, token, { path: WORKER_DIR, sites: ['gcp-eu'], instances: 1 })).status, 201);
      const { instances } = (await call('GET', `/v1/services/${name}/instances`, token)).body as { instances: InstanceRecordBody[] };
      const report = {
        id: instances[0]!.id, state: 'ready', pid: 1, rssBytes: 1, cpuPercent: 0, restarts: 0, crashLoop: false, lastExit: null, readyAt: Date.now(),
        interface: { methods: [], topics: [], queues: [], publishes: [], ...iface },
      };
      assert.equal((await call('POST', `/v1/agents/${agent}/report`, c.adminToken, { instances: [report] })).status, 200);
    };

    /** The invariant the brokers rely on: no topic or queue listed under two services. */
    const oneOwnerEach = (set: PoliciesBody & { changed: true }) => {
      for (const kind of ['topics', 'queues'] as const) {
        const all = Object.values(set.services).flatMap((p) => p[kind]);
        assert.equal(new Set(all).size, all.length, `a ${kind.slice(0, -1)} listed under two services: ${JSON.stringify(set.services)}`);
      }
    };

    before(async () => {
      c = await startControl(store, `claims_${store}`, undefined, 60_000);
      url = await c.app.listen({ host: '127.0.0.1', port: 0 });
      for (const name of ['music', 'rogue']) squads[name] = (await call('POST', '/v1/squads', c.adminToken, { name })).body as CreatedSquadBody;
      for (const [name, squad] of [['playlists', 'music'], ['charts', 'music'], ['squatter', 'rogue']] as const) {
        await call('POST', '/v1/services', squads[squad]!.token, { name, squad });
      }
      agent = ((await call('POST', '/v1/agents', c.adminToken, { site: 'gcp-eu', host: 'agent-1' })).body as RegisteredAgentBody).id;
      await runs('playlists', squads.music!.token, { publishes: ['playlist.created'], queues: ['playlist.jobs'], topics: ['user.created'] });
    });
    after(async () => {
      await c?.close();
    });

    it('the first service to declare a name owns it: the policy set lists it there', async () => {
      const set = await policies(squads.rogue!.token);
      assert.deepEqual([set.services.playlists!.topics, set.services.playlists!.queues], [['playlist.created'], ['playlist.jobs']]);
      assert.deepEqual((await service('playlists', squads.music!.token)).claims, {
        owned: [{ kind: 'queue', name: 'playlist.jobs' }, { kind: 'topic', name: 'playlist.created' }], shared: [], refused: [],
      });
    });

    it('another squad\'s service that declares it gets no rights, and the API tells that squad why', async () => {
      await runs('squatter', squads.rogue!.token, { publishes: ['playlist.created', 'rogue.news'], queues: ['playlist.jobs', 'playlists@user.created', 'rogue.jobs'] });
      const set = await policies(squads.rogue!.token);
      oneOwnerEach(set);
      assert.deepEqual([set.services.squatter!.topics, set.services.squatter!.queues], [['rogue.news'], ['rogue.jobs']]);
      assert.deepEqual([set.services.playlists!.topics, set.services.playlists!.queues], [['playlist.created'], ['playlist.jobs']]);

      const shown = await service('squatter', squads.rogue!.token);
      assert.deepEqual(shown.claims.owned, [{ kind: 'queue', name: 'rogue.jobs' }, { kind: 'topic', name: 'rogue.news' }]);
      assert.deepEqual(shown.claims.refused.map((r) => [r.kind, r.name, r.owner, r.ownerSquad]), [
        ['topic', 'playlist.created', 'playlists', 'music'],
        ['queue', 'playlist.jobs', 'playlists', 'music'],
        ['queue', 'playlists@user.created', 'playlists', 'music'],
      ]);
      const [topic, queue, durable] = shown.claims.refused;
      assert.match(topic!.message, /topic 'playlist\.created' belongs to service 'playlists' of squad 'music', which claimed it first: 'squatter' gets no rights on it/);
      assert.match(topic!.message, /squadron grant squatter playlists --publish playlist\.created/);
      assert.match(queue!.message, /--consume playlist\.jobs/);
      assert.match(durable!.message, /durable subscription: only that service consumes it/);

      const audit = (await call('GET', '/v1/audit?target=service:squatter', squads.rogue!.token)).body as { entries: AuditBody[] };
      const refused = audit.entries.filter((e) => e.action === 'claim.refused').map((e) => e.detail.name).sort();
      assert.deepEqual(refused, ['playlist.created', 'playlist.jobs', 'playlists@user.created']);
      assert.deepEqual(audit.entries.filter((e) => e.action === 'claim.take').map((e) => e.detail.name).sort(), ['rogue.jobs', 'rogue.news']);
    });

    it('a service of the owner\'s squad shares the claim; the first service stays the owner', async () => {
      await runs('charts', squads.music!.token, { publishes: ['playlist.created', 'charts.updated'] });
      const set = await policies(squads.music!.token);
      oneOwnerEach(set);
      assert.deepEqual(set.services.charts!.topics, ['charts.updated']);
      assert.deepEqual(set.services.playlists!.topics, ['playlist.created']);
      const shown = await service('charts', squads.music!.token);
      assert.deepEqual(shown.claims.shared, [{ kind: 'topic', name: 'playlist.created', owner: 'playlists' }]);
      assert.deepEqual(shown.claims.refused, []);
    });

    it('a claim stays with its owner across its releases; a later deploy of the squatter changes nothing', async () => {
      await runs('playlists', squads.music!.token, { publishes: [], queues: [] });
      await runs('squatter', squads.rogue!.token, { publishes: ['playlist.created'] });
      const set = await policies(squads.rogue!.token);
      oneOwnerEach(set);
      assert.deepEqual(set.services.playlists!.topics, ['playlist.created']);
      assert.deepEqual(set.services.squatter!.topics, ['rogue.news']);
    });
  });
}
