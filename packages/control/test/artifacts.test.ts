import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ARTIFACT_FORMAT, MAX_ARTIFACT_BYTES, digestOf, packArtifact } from '@squadron/artifact';
import { ApiError, ControlClient, type ArtifactBody, type AssignmentsBody, type CreatedSquadBody, type ErrorBody, type InstanceRecordBody, type ReleaseBody, type ServiceBody } from '@squadron/client';
import { waitFor } from '@squadron/testkit';
import { Packr } from 'msgpackr';
import { ArtifactStore, RELEASE_RETENTION, UNUSED_ARTIFACT_GRACE_MS } from '../src/deploy/artifacts.ts';
import { STORES, startControl, type TestControl } from './harness.ts';

/**
 * Release artifacts through the API, on both stores: an upload is checked whole and kept by its
 * digest; a squad deploys and reads back only what it uploaded; a deploy by path builds the
 * folder here, taking in nothing from outside it; and past the newest releases of a service,
 * releases and then (after a grace period) the artifacts no release names are removed.
 */

/** The files of a small artifact, different for each `version`. */
const filesOf = (version: string) => ({
  'index.mjs': new TextEncoder().encode(`export default { name: 'svc', version: ${JSON.stringify(version)} };\n`),
  'notes.txt': new TextEncoder().encode(version),
});
/** A small artifact: packed by hand, as `squadron deploy` would build and upload one. */
const artifactOf = (version: string) => packArtifact({ entry: 'index.mjs', files: filesOf(version) });

for (const store of STORES) {
  describe(`release artifacts through the API (${store} state store)`, () => {
    let c: TestControl;
    let music: CreatedSquadBody;
    let video: CreatedSquadBody;
    let agent = '';
    let url = '';
    const dir = mkdtempSync(join(tmpdir(), 'squadron-artifacts-'));

    const inject = (method: 'GET' | 'POST', url: string, token: string, payload?: object) =>
      c.app.inject({ method, url, headers: c.as(token), ...(payload !== undefined ? { payload } : {}) });
    const upload = (token: string, bytes: Uint8Array, contentType = 'application/octet-stream') =>
      c.app.inject({ method: 'POST', url: '/v1/artifacts', headers: { ...c.as(token), 'content-type': contentType }, payload: Buffer.from(bytes) });
    const fetchArtifact = (token: string, digest: string) => inject('GET', `/v1/artifacts/${digest}`, token);
    const deploy = (token: string, service: string, body: object) => inject('POST', `/v1/services/${service}/releases`, token, { sites: ['gcp-eu'], instances: 1, ...body });
    const releases = async (service: string) => ((await inject('GET', `/v1/services/${service}/releases`, c.adminToken)).json() as { releases: ReleaseBody[] }).releases;
    const error = (res: { json(): unknown }) => (res.json() as ErrorBody).error;
    const storedDigests = async () => (await c.db.query<{ digest: string }>('SELECT digest FROM artifacts')).map((r) => r.digest);
    const owners = async (digest: string) => (await c.db.query<{ squad: string }>('SELECT squad FROM artifact_owners WHERE digest = $1 ORDER BY squad', [digest])).map((r) => r.squad);
    /** A service folder on this machine, for deploys by path. */
    const folder = (name: string, files: Record<string, string>) => {
      const root = join(dir, name);
      for (const [file, text] of Object.entries({ 'package.json': '{ "type": "module" }\n', ...files })) {
        mkdirSync(dirname(join(root, file)), { recursive: true });
        writeFileSync(join(root, file), text);
      }
      return root;
    };

    before(async () => {
      c = await startControl(store, `artifacts_${store}`, undefined, 60_000);
      music = (await inject('POST', '/v1/squads', c.adminToken, { name: 'music' })).json() as CreatedSquadBody;
      video = (await inject('POST', '/v1/squads', c.adminToken, { name: 'video' })).json() as CreatedSquadBody;
      for (const [name, squad] of [['playlists', 'music'], ['history', 'music'], ['clips', 'video']] as const) {
        assert.equal((await inject('POST', '/v1/services', c.adminToken, { name, squad })).statusCode, 201);
      }
      // An agent in the cloud site (reporting every minute, so up throughout): deploys there are accepted.
      agent = ((await inject('POST', '/v1/agents', c.adminToken, { site: 'gcp-eu', host: 'agent-1' })).json() as { id: string }).id;
      url = await c.app.listen({ host: '127.0.0.1', port: 0 });
    });
    after(async () => {
      await c?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('stores an upload and answers its digest, size, entry and files; the same bytes again are the same artifact', async () => {
      const bytes = artifactOf('upload');
      const res = await upload(music.token, bytes);
      assert.equal(res.statusCode, 201, res.body);
      const expected: ArtifactBody = {
        digest: digestOf(bytes), size: bytes.byteLength, entry: 'index.mjs',
        files: Object.entries(filesOf('upload')).map(([name, data]) => ({ name, bytes: data.byteLength })),
      };
      const body = res.json() as ArtifactBody;
      assert.deepEqual({ ...body, files: [...body.files].sort((a, b) => a.name.localeCompare(b.name)) }, expected);
      const again = await upload(music.token, bytes);
      assert.equal(again.statusCode, 201, again.body);
      assert.equal((again.json() as ArtifactBody).digest, expected.digest);
      assert.equal((await storedDigests()).filter((d) => d === expected.digest).length, 1);
      assert.deepEqual(await owners(expected.digest), ['music']);
    });

    it('refuses bytes that are not an artifact, or one with a file that escapes, naming why, and stores nothing', async () => {
      const before = (await storedDigests()).length;
      const evil = packArtifact({ entry: 'index.mjs', files: { 'index.mjs': new Uint8Array([1]), '../../etc/cron.d/job': new Uint8Array([2]) } });
      const unknownFormat = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true })
        .pack({ format: ARTIFACT_FORMAT + 1, entry: 'index.mjs', files: { 'index.mjs': new Uint8Array([1]) } });
      const cases: Array<[Uint8Array, RegExp, string?]> = [
        [new TextEncoder().encode('#!/bin/sh\necho not an artifact\n'), /not a release artifact/],
        [new Uint8Array(0), /not a release artifact/],
        [evil, /file named '\.\.\/\.\.\/etc\/cron\.d\/job', which is not a plain relative path/],
        [unknownFormat, /artifact format 2 is not known to this version/],
        [new TextEncoder().encode('{"entry":"index.mjs"}'), /not a release artifact/, 'application/json'],
      ];
      for (const [bytes, why, type] of cases) {
        const res = await upload(music.token, bytes, type);
        assert.equal(res.statusCode, 400, res.body);
        const e = error(res);
        assert.equal(e.code, 'BAD_REQUEST');
        assert.deepEqual(e.fields?.map((f) => f.path), ['/']);
        assert.match(e.fields![0]!.message, why);
      }
      assert.equal((await storedDigests()).length, before);
      // Bytes are a body for this route alone: another (here one that takes no body) still refuses them.
      const elsewhere = await c.app.inject({ method: 'DELETE', url: '/v1/services/clips/deployment', headers: { ...c.as(video.token), 'content-type': 'application/octet-stream' }, payload: Buffer.from(artifactOf('elsewhere')) });
      assert.equal(elsewhere.statusCode, 400, elsewhere.body);
      assert.equal(error(elsewhere).code, 'BAD_REQUEST');
    });

    it('refuses an upload over 32 MiB as PAYLOAD_TOO_LARGE, saying the limit and what to do, over HTTP too', async () => {
      const huge = new Uint8Array(MAX_ARTIFACT_BYTES + 1);
      const res = await upload(music.token, huge);
      assert.equal(res.statusCode, 413, res.body);
      assert.equal(error(res).code, 'PAYLOAD_TOO_LARGE');
      assert.match(error(res).message, /an artifact may be at most 33554432 bytes \(32 MiB\); this one is 33554433: a release holds code, not data/);
      // As the CLI uploads: the ControlClient, over a socket.
      await assert.rejects(new ControlClient({ url, token: music.token }).uploadArtifact(huge), (err: unknown) => {
        assert.ok(err instanceof ApiError);
        assert.deepEqual([err.code, err.status], ['PAYLOAD_TOO_LARGE', 413]);
        assert.match(err.message, /at most 33554432 bytes/);
        return true;
      });
      // At the limit the size is fine: what refuses it is its contents.
      assert.equal((await upload(music.token, huge.subarray(1))).statusCode, 400);
    });

    it('serves an artifact to the squad that uploaded it and the admin; another squad gets FORBIDDEN and cannot deploy it', async () => {
      const bytes = artifactOf('music only');
      const digest = (await upload(music.token, bytes)).json<ArtifactBody>().digest;
      for (const token of [music.token, c.adminToken]) {
        const res = await fetchArtifact(token, digest);
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.headers['content-type'], 'application/octet-stream');
        assert.ok(res.rawPayload.equals(Buffer.from(bytes)), 'the bytes uploaded');
      }
      const read = await fetchArtifact(video.token, digest);
      assert.equal(read.statusCode, 403, read.body);
      assert.equal(error(read).code, 'FORBIDDEN');
      assert.match(error(read).message, new RegExp(`artifact ${digest} was not uploaded by squad 'video'; a squad deploys only the artifacts it uploads`));
      const deployed = await deploy(video.token, 'clips', { artifact: digest });
      assert.equal(deployed.statusCode, 403, deployed.body);
      assert.equal(error(deployed).code, 'FORBIDDEN');
      assert.deepEqual(await releases('clips'), []);

      // Over HTTP with the client the agents and the CLI use: the same answers.
      assert.ok(Buffer.from(await new ControlClient({ url, token: music.token }).artifact(digest)).equals(Buffer.from(bytes)));
      await assert.rejects(new ControlClient({ url, token: video.token }).artifact(digest), (err: unknown) => err instanceof ApiError && err.code === 'FORBIDDEN' && err.status === 403);
    });

    it('answers NOT_FOUND for a digest nobody uploaded, to a read and a deploy, and BAD_REQUEST for one that is not a digest', async () => {
      const unknown = digestOf(artifactOf('never uploaded'));
      for (const token of [music.token, c.adminToken]) {
        const res = await fetchArtifact(token, unknown);
        assert.equal(res.statusCode, 404, res.body);
        assert.equal(error(res).code, 'NOT_FOUND');
        assert.match(error(res).message, /upload it first/);
      }
      const deployed = await deploy(music.token, 'playlists', { artifact: unknown });
      assert.equal(deployed.statusCode, 404, deployed.body);
      assert.equal(error(deployed).code, 'NOT_FOUND');
      assert.equal((await fetchArtifact(music.token, 'sha256:abc')).statusCode, 400);
      assert.equal((await deploy(music.token, 'playlists', { artifact: 'md5:0123' })).statusCode, 400);
      assert.deepEqual(await releases('playlists'), []);
    });

    it('lets two squads that uploaded the same bytes each deploy and read them', async () => {
      const bytes = artifactOf('shared');
      const digest = (await upload(music.token, bytes)).json<ArtifactBody>().digest;
      assert.equal((await deploy(video.token, 'clips', { artifact: digest })).statusCode, 403, 'not before video uploads them');
      assert.equal((await upload(video.token, bytes)).json<ArtifactBody>().digest, digest);
      assert.deepEqual(await owners(digest), ['music', 'video']);
      for (const [token, service] of [[music.token, 'playlists'], [video.token, 'clips']] as const) {
        const res = await deploy(token, service, { artifact: digest });
        assert.equal(res.statusCode, 201, res.body);
        assert.equal(res.json<ReleaseBody>().artifact, digest);
        assert.equal((await fetchArtifact(token, digest)).statusCode, 200);
      }
    });

    it('refuses a deploy with neither an artifact nor a path, naming both', async () => {
      const before = (await releases('playlists')).length;
      const res = await deploy(music.token, 'playlists', {});
      assert.equal(res.statusCode, 400, res.body);
      const e = error(res);
      assert.deepEqual(e.fields?.map((f) => f.path), ['/artifact']);
      assert.match(e.fields![0]!.message, /is required \(the digest of an uploaded artifact\), or \/path: a service folder on the control plane's machine/);
      assert.equal((await releases('playlists')).length, before);
    });

    it('builds a folder deployed by path, as its deployer\'s artifact', async () => {
      const path = folder('built-here', { 'index.ts': "import { defineService } from '@squadron/sdk';\n\nexport default defineService({ name: 'playlists', methods: { ping: async () => 'built-here-pong' } });\n" });
      const res = await deploy(music.token, 'playlists', { path });
      assert.equal(res.statusCode, 201, res.body);
      const release = res.json<ReleaseBody>();
      assert.equal(release.path, path);
      assert.match(release.artifact ?? '', /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(await owners(release.artifact!), ['music']);
      const bytes = (await fetchArtifact(music.token, release.artifact!)).rawPayload;
      assert.equal(digestOf(bytes), release.artifact);
      assert.ok(bytes.includes('built-here-pong'));
    });

    it('refuses a deploy by path of a folder inside the data directory, building nothing', async () => {
      const before = (await storedDigests()).length;
      const path = join(c.dataDir, 'services', 'thief');
      mkdirSync(path, { recursive: true });
      writeFileSync(join(path, 'package.json'), '{ "type": "module" }\n');
      writeFileSync(join(path, 'index.mjs'), "export default { name: 'thief' };\n");
      const res = await deploy(music.token, 'playlists', { path });
      assert.equal(res.statusCode, 400, res.body);
      assert.deepEqual(error(res).fields?.map((f) => f.path), ['/path']);
      assert.match(error(res).fields![0]!.message, /holds or is inside the platform's data directory/);
      assert.equal((await storedDigests()).length, before);
    });

    it('refuses a deploy by path of a folder that imports a file outside it, and keeps none of that file', async () => {
      const secretDir = mkdtempSync(join(tmpdir(), 'squadron-artifacts-secret-'));
      try {
        writeFileSync(join(secretDir, 'secret.json'), '{ "password": "hunter2-not-for-releases" }\n');
        const path = folder('thief', {
          'index.mjs': `import secret from '${join(secretDir, 'secret.json')}';\n\nexport default { name: 'playlists', methods: { leak: async () => secret } };\n`,
        });
        const before = await releases('playlists');
        const res = await deploy(music.token, 'playlists', { path });
        assert.equal(res.statusCode, 400, res.body);
        const e = error(res);
        assert.deepEqual(e.fields?.map((f) => f.path), ['/path']);
        assert.match(e.fields![0]!.message, /secret\.json is outside the service folder and its npm packages; a release holds only those/);
        assert.doesNotMatch(res.body, /hunter2/);
        assert.deepEqual(await releases('playlists'), before);
        const stored = await c.db.query<{ digest: string; bytes: Uint8Array }>('SELECT digest, bytes FROM artifacts');
        assert.ok(stored.length > 0);
        for (const row of stored) assert.ok(!Buffer.from(row.bytes).includes('hunter2'), `artifact ${row.digest} holds none of the secret`);
        // Another squad cannot make the control plane build a folder for a service it does not own.
        const other = await deploy(video.token, 'playlists', { path: folder('ok', { 'index.mjs': "export default { name: 'playlists' };\n" }) });
        assert.equal(other.statusCode, 403, other.body);
      } finally {
        rmSync(secretDir, { recursive: true, force: true });
      }
    });

    describe('retention', () => {
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
        }, `only release ${current} of history running`, 10_000);
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
  });
}
