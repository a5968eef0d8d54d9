import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStateStore, Sites, validateConfig, type PlatformConfig } from '@squadron/control';
import { AgentRegistry } from '../src/deploy/agent-registry.ts';

describe('agent registry', () => {
  it('forgets agents long silent that run nothing, and keeps the ones that still hold instances', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squadron-agents-'));
    const db = await openStateStore(join(dir, 'state.db'));
    try {
      const sites = new Sites(validateConfig({ sites: [{ name: 'sto', kind: 'datacenter' }] }) as PlatformConfig);
      const before = new AgentRegistry(db, sites);
      const idle = (await before.register({ site: 'sto', host: 'a' })).id;
      const busy = (await before.register({ site: 'sto', host: 'b' })).id;
      await db.query("INSERT INTO squads (name, token_hash, created_at, created_by) VALUES ('s', 'h', 0, 'admin')");
      await db.query("INSERT INTO services (name, squad, created_at) VALUES ('svc', 's', 0)");
      await db.query('INSERT INTO instances (id, service, release, site, agent, draining, created_at) VALUES ($1, $2, 1, $3, $4, 0, 0)', ['i1', 'svc', 'sto', busy]);
      await db.query('UPDATE agents SET last_seen_at = $1', [Date.now() - 120_000]);

      // As after a control-plane restart: nothing in memory, only the store's last_seen_at.
      const after = new AgentRegistry(db, sites);
      await after.pruneGone(60_000);
      assert.deepEqual((await after.list()).map((a) => [a.id, a.up]), [[busy, false]], `${idle} is gone`);
      // Still known in memory as seen lately: kept, whatever the store says.
      const fresh = (await after.register({ site: 'sto', host: 'c' })).id;
      await db.query('UPDATE agents SET last_seen_at = 0 WHERE id = $1', [fresh]);
      await after.pruneGone(60_000);
      assert.deepEqual((await after.list()).map((a) => a.id).sort(), [busy, fresh].sort());
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
