import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, silent, waitFor } from '@squadron/testkit';
import { KvClient, KvProvisioner, StorageError, setKvQuota, type KvQuotaError, type StorageSpec } from '../src/index.ts';

const root = mkdtempSync(join(tmpdir(), 'squadron-kv-provisioner-'));
after(() => rmSync(root, { recursive: true, force: true }));

function resource(name: string, sites = ['sto', 'gcp-eu']) {
  const spec: StorageSpec = { name, kind: 'kv', service: 'sessions', squad: 'web', sites, primary: sites[0]!, sync: false };
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return { spec, ctx: { dir, log: silent } };
}

async function statsOf(endpoint: string, secret: string): Promise<{ pid: number; keys: number }> {
  const res = await fetch(`${endpoint}/stats`, { headers: { authorization: `Bearer ${secret}` } });
  return res.json() as Promise<{ pid: number; keys: number }>;
}

describe('kv provisioner', () => {
  it('runs a server per site, restarts one that dies, which then catches up; destroy removes everything', async () => {
    const kv = new KvProvisioner({ restart: { minMs: 100, maxMs: 1000, stableMs: 30_000 } });
    const { spec, ctx } = resource('sessions');
    const state = await kv.create(spec, ctx);
    after(() => kv.destroy(spec, state, ctx));

    const credentials = kv.credentials(spec, state);
    assert.deepEqual(Object.keys(credentials.endpoints), ['sto', 'gcp-eu']);
    assert.equal(typeof credentials.secret, 'string');
    const described = await kv.describe(spec, state, ctx);
    assert.deepEqual(described.sites.map((s) => [s.site, s.role, s.up]), [['sto', 'replica', true], ['gcp-eu', 'replica', true]]);
    assert.ok(existsSync(join(ctx.dir, 'sto', 'kv.db')) && existsSync(join(ctx.dir, 'gcp-eu', 'kv.db')), 'a SQLite file per site');

    const atSto = new KvClient({ credentials, namespace: 'app.a1', site: 'sto' });
    const atEu = new KvClient({ credentials: () => kv.credentials(spec, state), namespace: 'app.a1', site: 'gcp-eu' });
    await atSto.put('before', 1);
    await waitFor(() => atEu.get('before'), 'the first write in gcp-eu', 5000);

    const euEndpoint = credentials.endpoints['gcp-eu']!;
    const { pid } = await statsOf(euEndpoint, credentials.secret);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !alive(pid), 'the killed server gone', 5000);
    for (let i = 0; i < 10; i++) await atSto.put(`while-down/${i}`, i);

    // Restarted on its port, it pulls what it missed.
    await waitFor(async () => {
      const d = await kv.describe(spec, state, ctx);
      return d.sites.every((s) => s.up);
    }, 'gcp-eu up again', 15_000);
    assert.notEqual((await statsOf(euEndpoint, credentials.secret)).pid, pid, 'a new process');
    await waitFor(async () => (await atEu.list('while-down/')).items.length === 10, 'gcp-eu caught up', 5000);
    assert.equal(atEu.lastSite, 'gcp-eu');
    const later = await kv.describe(spec, state, ctx);
    assert.ok((later.facts.restarts as Record<string, number>)['gcp-eu']! >= 1);

    await assert.rejects(kv.failover(spec, state, ctx), (err: unknown) => err instanceof StorageError && err.code === 'NOT_SUPPORTED' && /every site takes writes/.test(err.message));

    const pids = await Promise.all(Object.values(credentials.endpoints).map(async (e) => (await statsOf(e, credentials.secret)).pid));
    await kv.destroy(spec, state, ctx);
    assert.equal(existsSync(ctx.dir), false, 'the resource\'s folder is gone');
    for (const p of pids) assert.equal(alive(p), false, `server ${p} stopped`);
    await assert.rejects(atSto.get('before'), (err: unknown) => err instanceof StorageError && err.code === 'STORAGE_UNAVAILABLE');
  });

  it('sets a namespace\'s quota on every site', async () => {
    const kv = new KvProvisioner({ defaultQuota: { maxKeys: 100, maxBytes: 100_000 } });
    const { spec, ctx } = resource('quotas');
    const state = await kv.create(spec, ctx);
    after(() => kv.destroy(spec, state, ctx));
    const credentials = kv.credentials(spec, state);
    const set = await setKvQuota(credentials, 'app.a1', { maxKeys: 1 });
    assert.deepEqual(Object.keys(set), ['sto', 'gcp-eu']);
    for (const site of ['sto', 'gcp-eu']) {
      const client = new KvClient({ credentials, namespace: 'app.a1', site });
      await client.put(`only-${site}`, 1).catch(() => undefined);
      await assert.rejects(client.put(`second-${site}`, 2), (err: unknown) => (err as KvQuotaError).code === 'QUOTA_EXCEEDED');
    }
  });

  it('refuses a spec it cannot run, naming what is wrong', async () => {
    const kv = new KvProvisioner();
    const { spec, ctx } = resource('bad', ['sto', 'sto', 'Bad Site']);
    await assert.rejects(kv.create(spec, ctx), (err: unknown) =>
      err instanceof StorageError && err.code === 'BAD_REQUEST' && /'Bad Site'/.test(err.message) && /twice/.test(err.message));
    await assert.rejects(kv.create({ ...spec, kind: 'postgres', sites: ['sto'] }, ctx), /not 'kv'/);
  });
});
