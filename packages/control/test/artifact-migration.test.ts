import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { buildControlServer, openStateStore, Sites, validateConfig, type PlatformConfig } from '@squadron/control';
import { digestOf, unpackArtifact } from '@squadron/artifact';
import type { AssignmentsBody, ErrorBody, ReleaseBody } from '@squadron/client';
import { freshPostgresDatabase } from '@squadron/testkit';
import type { Db } from '../src/state/db.ts';
import { migrate } from '../src/state/migrate.ts';
import { PostgresDb } from '../src/state/postgres-db.ts';
import { MIGRATIONS } from '../src/state/schema.ts';
import { SqliteDb } from '../src/state/sqlite-db.ts';
import { STORES, TEST_CONFIG } from './harness.ts';

/**
 * A store from before artifacts (migration 9), whose releases name only a folder: at start the
 * control plane builds each release whose folder still builds into an artifact its service's
 * squad owns, before any agent asks what to run. A release whose folder is gone keeps no
 * artifact: the start says so in the log, the agents are told it has none (so they cannot start
 * it), and a rollback to it is refused.
 */
for (const store of STORES) {
  describe(`releases from before artifacts get one at start (${store} state store)`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'squadron-artifact-migration-'));
    const closers: Array<() => Promise<unknown>> = [];
    after(async () => {
      for (const close of closers.reverse()) await close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('builds the releases whose folder builds; the others stay without one, said in the log and to the agents', async () => {
      let where = join(dir, 'state.db');
      let old: Db;
      if (store === 'postgres') {
        const pg = await freshPostgresDatabase('artifact_migration');
        closers.push(() => pg.drop());
        where = pg.url;
        old = new PostgresDb(pg.url);
      } else {
        old = new SqliteDb(where);
      }
      await migrate(old, MIGRATIONS.filter((m) => m.version < 10));
      const folder = join(dir, 'playlists');
      mkdirSync(folder);
      writeFileSync(join(folder, 'package.json'), '{ "type": "module" }\n');
      writeFileSync(join(folder, 'index.mjs'), "export default { name: 'playlists', methods: { list: async () => 'from-the-old-folder' } };\n");
      const gone = join(dir, 'radio-was-here');
      const now = Date.now();
      await old.query('INSERT INTO squads (name, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4)', ['music', 'hash-music', now, 'admin']);
      await old.query('INSERT INTO agents (id, site, host, slots, registered_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)', ['gcp-eu-agent1', 'gcp-eu', 'h', null, now, now]);
      const releases: Array<[string, number, string]> = [['playlists', 1, folder], ['radio', 1, gone], ['radio', 2, gone]];
      for (const service of ['playlists', 'radio']) {
        const current = Math.max(...releases.filter(([s]) => s === service).map(([, n]) => n));
        await old.query('INSERT INTO services (name, squad, created_at, release, desired) VALUES ($1, $2, $3, $4, $5)', [service, 'music', now, current, '{"gcp-eu":1}']);
        await old.query('INSERT INTO instances (id, service, release, site, agent, draining, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6)', [`${service}-gcp-eu-000001`, service, current, 'gcp-eu', 'gcp-eu-agent1', now]);
      }
      for (const [service, number, path] of releases) {
        await old.query('INSERT INTO releases (service, number, path, desired, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)', [service, number, path, '{"gcp-eu":1}', now, 'squad:music']);
      }
      await old.close();

      // The control plane starts on it, as `squadron control` would.
      const warnings: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
      const db = await openStateStore(where);
      const app = await buildControlServer({
        sites: new Sites(validateConfig(TEST_CONFIG) as PlatformConfig), db, adminToken: 'sqa_test-admin-token', logger, dataDir: join(dir, 'data'), agentReportEveryMs: 60_000,
      });
      closers.push(() => app.close());
      const admin = { authorization: 'Bearer sqa_test-admin-token' };
      const get = (url: string) => app.inject({ method: 'GET', url, headers: admin });

      const [built] = (await get('/v1/services/playlists/releases')).json<{ releases: ReleaseBody[] }>().releases;
      assert.match(built?.artifact ?? '', /^sha256:[0-9a-f]{64}$/, 'the release whose folder builds has an artifact');
      assert.equal(built!.path, folder);
      const bytes = (await get(`/v1/artifacts/${built!.artifact}`)).rawPayload;
      assert.equal(digestOf(bytes), built!.artifact);
      assert.match(Buffer.from(unpackArtifact(bytes).files['index.mjs']!).toString(), /from-the-old-folder/);
      const [owner] = await db.query<{ squad: string }>('SELECT squad FROM artifact_owners WHERE digest = $1', [built!.artifact]);
      assert.equal(owner?.squad, 'music', 'the artifact is its service\'s squad\'s');

      const radio = (await get('/v1/services/radio/releases')).json<{ releases: ReleaseBody[] }>().releases;
      assert.deepEqual(radio.map((r) => [r.number, r.artifact, r.path]), [[2, null, gone], [1, null, gone]]);
      for (const n of [1, 2]) {
        assert.ok(warnings.some((w) => w.startsWith(`release ${n} of radio has no artifact and its folder ${gone} does not build (`) && w.endsWith('); deploy it again')),
          `a warning for release ${n} of radio: ${JSON.stringify(warnings)}`);
      }
      assert.ok(!warnings.some((w) => w.includes('of playlists')), 'none for the release that built');

      const { instances } = (await get('/v1/agents/gcp-eu-agent1/assignments?after=0')).json<AssignmentsBody>();
      assert.deepEqual(instances.map((i) => [i.service, i.release, i.artifact]).sort(), [['playlists', 1, built!.artifact], ['radio', 2, null]]);

      const back = await app.inject({ method: 'POST', url: '/v1/services/radio/rollback', headers: admin, payload: { to: 1 } });
      assert.equal(back.statusCode, 409, back.body);
      assert.match(back.json<ErrorBody>().error.message, /release 1 of 'radio' has no artifact to run \(it was made before releases had one, and its folder did not build\); deploy instead/);
    });
  });
}
