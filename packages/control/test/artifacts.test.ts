import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ARTIFACT_FORMAT, MAX_ARTIFACT_BYTES, digestOf, packArtifact } from '@squadron/artifact';
import { ApiError, ControlClient, type ArtifactBody, type CreatedSquadBody, type ErrorBody, type ReleaseBody } from '@squadron/client';
import { Packr } from 'msgpackr';
import { STORES, startControl, type TestControl } from './harness.ts';

/**
 * Release artifacts through the API, on both stores: an upload is checked whole and kept by its
 * digest; a squad deploys and reads back only what it uploaded; a deploy by path builds the
 * folder here, taking in nothing from outside it. (Retention: artifacts-retention.test.ts.)
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
      for (const [name, squad] of [['playlists', 'music'], ['clips', 'video']] as const) {
        assert.equal((await inject('POST', '/v1/services', c.adminToken, { name, squad })).statusCode, 201);
      }
      // An agent in the cloud site (reporting every minute, so up throughout): deploys there are accepted.
      await inject('POST', '/v1/agents', c.adminToken, { site: 'gcp-eu', host: 'agent-1' });
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
  });
}
