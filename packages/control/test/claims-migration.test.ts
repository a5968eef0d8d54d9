import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshPostgresDatabase } from '@squadron/testkit';
import type { Db } from '../src/state/db.ts';
import { migrate } from '../src/state/migrate.ts';
import { PostgresDb } from '../src/state/postgres-db.ts';
import { MIGRATIONS } from '../src/state/schema.ts';
import { SqliteDb } from '../src/state/sqlite-db.ts';
import { STORES } from './harness.ts';

/**
 * A store from before claims: the migration that adds them has each service claim what its
 * stored interface declares, the oldest service first, so that two services that both declared
 * a topic do not both own it after the upgrade; a SERVICE@TOPIC queue only SERVICE claims.
 */
for (const store of STORES) {
  describe(`the claims migration on a store with interfaces (${store})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'squadron-claims-migration-'));
    let db: Db;
    let drop = async () => {};
    after(async () => {
      await db?.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('claims what each service declared, first come first served', async () => {
      if (store === 'postgres') {
        const pg = await freshPostgresDatabase('claims_migration');
        db = new PostgresDb(pg.url);
        drop = () => pg.drop();
      } else {
        db = new SqliteDb(join(dir, 'state.db'));
      }
      const before = MIGRATIONS.filter((m) => m.version < 7);
      await migrate(db, before);
      for (const [i, squad] of ['music', 'rogue'].entries()) {
        await db.query('INSERT INTO squads (name, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4)', [squad, `hash-${i}`, 1, 'admin']);
      }
      const services: Array<[string, string, number, object | null]> = [
        ['squatter', 'rogue', 300, { methods: [], topics: [], queues: ['playlists@user.created', 'jobs'], publishes: ['playlist.created', 'rogue.news'] }],
        ['playlists', 'music', 100, { methods: [], topics: [], queues: ['jobs'], publishes: ['playlist.created'] }],
        ['old', 'music', 50, { methods: [], topics: [], queues: [] }],
        ['idle', 'music', 10, null],
      ];
      for (const [name, squad, at, iface] of services) {
        await db.query('INSERT INTO services (name, squad, created_at, interface) VALUES ($1, $2, $3, $4)', [name, squad, at, iface === null ? null : JSON.stringify(iface)]);
      }
      assert.deepEqual(await migrate(db, MIGRATIONS), MIGRATIONS.filter((m) => m.version >= 7).map((m) => m.version));
      const rows = await db.query<{ kind: string; name: string; service: string; squad: string }>('SELECT kind, name, service, squad FROM claims ORDER BY kind, name');
      assert.deepEqual(rows.map((r) => [r.kind, r.name, r.service, r.squad]), [
        ['queue', 'jobs', 'playlists', 'music'],
        ['topic', 'playlist.created', 'playlists', 'music'],
        ['topic', 'rogue.news', 'squatter', 'rogue'],
      ]);
    });
  });
}
