import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { squadron, startTestPlatform, waitFor, type TestPlatform } from '@squadron/testkit';

/** Every file and folder under `dir` that group or other may read or write, with its mode. */
function exposed(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return [];
    // Folders may keep search (x) for a storage server's user to pass through; never read or write.
    const bad = st.mode & (st.isDirectory() ? 0o066 : 0o077);
    const own = bad ? [`${path} (${(st.mode & 0o777).toString(8)})`] : [];
    return st.isDirectory() ? [...own, ...exposed(path)] : own;
  });
}

/**
 * The data directory holds the admin token, the signing key (state.db) and the storage files: a
 * local user who is not the platform must not read any of it, and a data directory that others
 * can read is refused, as ssh refuses a private key others can read.
 */
describe('the data directory is private to the platform', () => {
  let platform: TestPlatform;

  before(async () => {
    platform = await startTestPlatform('data-dir');
    const { api } = platform;
    await api.createSquad('keepers');
    await api.createService({ name: 'keeper', squad: 'keepers' });
    await api.createStorage({ name: 'keeper-kv', kind: 'kv', service: 'keeper', sites: ['sto', 'gcp-eu'] });
    await api.createStorage({ name: 'keeper-cache', kind: 'memcached', service: 'keeper', sites: ['sto'] });
    for (const name of ['keeper-kv', 'keeper-cache']) await waitFor(async () => (await api.storage(name)).status === 'ready', `storage ${name} ready`, 60_000);
    // Written to: the kv files, their WAL, the logs.
    await squadron(['status'], platform.env);
  });

  after(async () => {
    await platform?.stop();
  });

  it('after squadron up and storage, no file under it is readable by group or other', () => {
    const { dataDir } = platform;
    const names = readdirSync(dataDir);
    for (const expected of ['admin-token', 'state.db', 'logs', 'storage']) assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`);
    assert.ok(readdirSync(dataDir).some((n) => n.startsWith('state.db-')), 'SQLite\'s WAL files are there to check');
    assert.deepEqual(exposed(dataDir), []);
    assert.equal(lstatSync(dataDir).mode & 0o066, 0);
  });

  it('refuses to start on a data directory others can read, saying what to run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'squadron-open-'));
    try {
      chmodSync(dir, 0o755);
      const r = await squadron(['up', '--port', '0'], { SQUADRON_DATA_DIR: dir }, 30_000);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /STARTUP_FAILED: the data directory .* can be read or written by other users \(mode 755\).*run `chmod 700 /);
      assert.deepEqual(readdirSync(dir), [], 'nothing was written');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
