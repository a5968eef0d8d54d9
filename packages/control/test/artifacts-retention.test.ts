import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { packArtifact } from '@squadron/artifact';
import type { ArtifactBody, AssignmentsBody, CreatedSquadBody, ErrorBody, InstanceRecordBody, ReleaseBody, ServiceBody } from '@squadron/client';
import { waitFor } from '@squadron/testkit';
import { ArtifactStore, RELEASE_RETENTION, UNUSED_ARTIFACT_GRACE_MS } from '../src/deploy/artifacts.ts';
import { STORES, startControl, type TestControl } from './harness.ts';

/**
 * Retention, on both stores: past the newest RELEASE_RETENTION releases of a service, the older
 * ones are removed (but the current one and any an instance still runs), and an artifact no
 * release names is removed once its grace period is over. The agent is played through its API,
 * so that a rollout moves on (new instances ready, old ones drained and gone) as with real ones.
 */

/** A small artifact, different for each `version`: packed by hand, as `squadron deploy` would build and upload one. */
const artifactOf = (version: string) => packArtifact({
  entry: 'index.mjs',
  files: { 'index.mjs': new TextEncoder().encode(`export default { name: 'history', version: ${JSON.stringify(version)} };\n`) },
});

for (const store of STORES) {
  describe(`release retention (${store} state store)`, () => {
    let c: TestControl;
    let music: CreatedSquadBody;
    let agent = '';

    const inject = (method: 'GET' | 'POST', url: string, token: string, payload?: object) =>
      c.app.inject({ method, url, headers: c.as(token), ...(payload !== undefined ? { payload } : {}) });
    const upload = (token: string, bytes: Uint8Array) =>
      c.app.inject({ method: 'POST', url: '/v1/artifacts', headers: { ...c.as(token), 'content-type': 'application/octet-stream' }, payload: Buffer.from(bytes) });
    const fetchArtifact = (token: string, digest: string) => inject('GET', `/v1/artifacts/${digest}`, token);
    const deploy = (token: string, service: string, body: object) => inject('POST', `/v1/services/${service}/releases`, token, { sites: ['gcp-eu'], instances: 1, ...body });
    const releases = async (service: string) => ((await inject('GET', `/v1/services/${service}/releases`, c.adminToken)).json() as { releases: ReleaseBody[] }).releases;
    const error = (res: { json(): unknown }) => (res.json() as ErrorBody).error;
    const storedDigests = async () => (await c.db.query<{ digest: string }>('SELECT digest FROM artifacts')).map((r) => r.digest);
    const owners = async (digest: string) => (await c.db.query<{ squad: string }>('SELECT squad FROM artifact_owners WHERE digest = $1 ORDER BY squad', [digest])).map((r) => r.squad);

    before(async () => {
      c = await startControl(store, `artifact_retention_${store}`, undefined, 60_000);
      music = (await inject('POST', '/v1/squads', c.adminToken, { name: 'music' })).json() as CreatedSquadBody;
      assert.equal((await inject('POST', '/v1/services', c.adminToken, { name: 'history', squad: 'music' })).statusCode, 201);
      // An agent in the cloud site (reporting every minute, so up throughout): deploys there are accepted.
      agent = ((await inject('POST', '/v1/agents', c.adminToken, { site: 'gcp-eu', host: 'agent-1' })).json() as { id: string }).id;
    });
    after(async () => c?.close());

    /** Instances this test's agent keeps running (draining) whatever the control plane asks. */
    const stillRunning = new Set<string>();
    const observation = { pid: 1, rssBytes: 1, cpuPercent: 0, restarts: 0, crashLoop: false, lastExit: null, readyAt: 1, demoted: false, restartAt: null };
    const instances = async () => (await inject('GET', '/v1/services/history/instances', c.adminToken)).json<{ instances: InstanceRecordBody[] }>().instances;
    /**
     * Play the agent (through its API): every instance it is given becomes ready, so the rollout
     * drains the older ones, and a drained one stops, so the control plane forgets it, except
     * the ones in `stillRunning`, which it reports as still draining. Until only the current
     * release runs, and those.
     */
    const settle = async () => {
      const current = (await inject('GET', '/v1/services/history', c.adminToken)).json<ServiceBody>().release;
      await waitFor(async () => {
        const given = (await inject('GET', `/v1/agents/${agent}/assignments?after=0`, c.adminToken)).json<AssignmentsBody>().instances;
        const report = [...given.map((i) => ({ ...observation, id: i.id, state: 'ready' })), ...[...stillRunning].map((id) => ({ ...observation, id, state: 'draining' }))];
        assert.equal((await inject('POST', `/v1/agents/${agent}/report`, c.adminToken, { instances: report })).statusCode, 200);
        const now = await instances();
        return now.filter((i) => i.release === current && i.state === 'ready').length === 1 && now.every((i) => i.release === current || stillRunning.has(i.id));
      }, `only release ${current} of history running`, 30_000, 20);
    };
    const deployVersion = async (version: string) => {
      const digest = (await upload(music.token, artifactOf(version))).json<ArtifactBody>().digest;
      const res = await deploy(music.token, 'history', { artifact: digest });
      assert.equal(res.statusCode, 201, res.body);
      await settle();
      return digest;
    };
    const digests = new Map<number, string>();

    it(`keeps the newest ${RELEASE_RETENTION} releases of a service, and an older one an instance still runs`, async () => {
      for (let n = 1; n <= 25; n++) {
        digests.set(n, await deployVersion(`v${n}`));
        // Release 2's instance keeps running (its agent is still draining it) after the rollout moves on.
        if (n === 2) for (const i of await instances()) stillRunning.add(i.id);
      }
      const listed = await releases('history');
      assert.deepEqual(listed.map((r) => r.number), [...Array.from({ length: 20 }, (_, i) => 25 - i), 2]);
      assert.equal(listed[0]!.artifact, digests.get(25));
      assert.equal((await inject('GET', '/v1/services/history', c.adminToken)).json<ServiceBody>().release, 25, 'the current release is kept');
      // The artifacts of the removed releases are still stored: each was uploaded within the grace period.
      const stored = await storedDigests();
      for (const n of [1, 3, 4, 5]) assert.ok(stored.includes(digests.get(n)!), `release ${n}'s artifact is kept for now`);
    });

    it('refuses a rollback to a removed release with CONFLICT naming the retention; the kept old one rolls back', async () => {
      const res = await inject('POST', '/v1/services/history/rollback', music.token, { to: 3 });
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(error(res).code, 'CONFLICT');
      assert.match(error(res).message, new RegExp(`service 'history' has no release 3; 'squadron releases history' lists them \\(the newest ${RELEASE_RETENTION} are kept\\)`));
      const back = await inject('POST', '/v1/services/history/rollback', music.token, { to: 2 });
      assert.equal(back.statusCode, 201, back.body);
      assert.deepEqual([back.json<ReleaseBody>().number, back.json<ReleaseBody>().rollbackOf, back.json<ReleaseBody>().artifact], [26, 2, digests.get(2)]);
      await settle();
      // Its old instance stops at last: the next release removes release 2 (and 7), but not its artifact, which 26 runs.
      stillRunning.clear();
      await settle();
      digests.set(27, await deployVersion('v27'));
      assert.deepEqual((await releases('history')).map((r) => r.number), Array.from({ length: 20 }, (_, i) => 27 - i));
      assert.ok((await storedDigests()).includes(digests.get(2)!));
    });

    it('removes an artifact no release names only after the grace period, and the squad then gets NOT_FOUND', async () => {
      const unused = [1, 3, 4, 5, 6, 7].map((n) => digests.get(n)!);
      // Release 26 runs release 2's artifact.
      const named = [2, ...Array.from({ length: 20 }, (_, i) => 27 - i).filter((n) => n !== 26)].map((n) => digests.get(n)!);
      const neverDeployed = (await upload(music.token, artifactOf('never deployed'))).json<ArtifactBody>().digest;
      const uploadedAt = (await c.db.query<{ at: number }>('SELECT created_at AS at FROM artifacts')).map((r) => Number(r.at));
      // The store's clock moved on to just within the grace period of the oldest upload: nothing goes.
      await new ArtifactStore(c.db, () => Math.min(...uploadedAt) + UNUSED_ARTIFACT_GRACE_MS).prune(c.db);
      let stored = await storedDigests();
      for (const d of [...unused, ...named, neverDeployed]) assert.ok(stored.includes(d), `${d} kept within the grace period`);
      // Past that of the newest, the artifacts no release names go, with their owners; those a release names stay.
      await new ArtifactStore(c.db, () => Math.max(...uploadedAt) + UNUSED_ARTIFACT_GRACE_MS + 1).prune(c.db);
      stored = await storedDigests();
      for (const d of [...unused, neverDeployed]) {
        assert.ok(!stored.includes(d), `${d} removed`);
        assert.deepEqual(await owners(d), []);
      }
      for (const d of named) assert.ok(stored.includes(d), `${d} kept: a release runs it`);
      const gone = await fetchArtifact(music.token, unused[0]!);
      assert.equal(gone.statusCode, 404, gone.body);
      assert.equal((await deploy(music.token, 'history', { artifact: unused[0]! })).statusCode, 404);
      assert.equal((await fetchArtifact(music.token, named[0]!)).statusCode, 200);
    });

    it('keeps the current release even when it is older than the newest ones', async () => {
      // No request makes a current release older than the newest twenty today (a deploy and a
      // rollback each make a new, newest one); the guard is checked on the store directly.
      // In one transaction, so that no reconcile pass places an instance of release 9 in between.
      await c.db.tx(async (q) => {
        await q.query("UPDATE services SET release = 9 WHERE name = 'history'");
        await q.query(`INSERT INTO releases (service, number, artifact, path, desired, created_at, created_by, rollback_of, max_memory_mb)
          SELECT service, 40, artifact, path, desired, created_at, created_by, rollback_of, max_memory_mb FROM releases WHERE service = 'history' AND number = 27`);
        await new ArtifactStore(c.db).prune(q, 'history');
      });
      assert.deepEqual((await releases('history')).map((r) => r.number), [40, 27, 26, 25, 24, 23, 22, 21, 9]);
    });
  });
}
