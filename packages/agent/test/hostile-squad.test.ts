import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type Client } from '@squadron/sdk';
import { Identity } from '@squadron/identity';
import { ensureSystemUser } from '@squadron/storage';
import { startTestPlatform, waitFor, alive, type TestPlatform } from '@squadron/testkit';
import { squadUserName } from '@squadron/agent';
import type { Attempt, Targets } from './fixtures/hostile/intruder/index.ts';

const INTRUDER_DIR = fileURLToPath(new URL('./fixtures/hostile/intruder/', import.meta.url));
const VAULT_FIXTURE = fileURLToPath(new URL('./fixtures/hostile/vault/', import.meta.url));
const isRoot = process.getuid?.() === 0;

/** Every file under `dir` (this test runs as the platform's user, who may list them). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? filesUnder(path) : e.isFile() ? [path] : [];
  });
}

/**
 * A hostile squad, deployed the normal way on a real `squadron up`: its handler tries to read
 * the platform's secrets, another squad's code, storage and process environment, to signal other
 * squads' and the platform's processes, and to write outside its own folder, both with Node's
 * APIs and through a child process. Every attempt must be refused.
 */
describe('a hostile squad\'s handler, run by the agent', () => {
  let platform: TestPlatform;
  let client: Client;
  let privateBase: string;
  let vaultDir: string;

  before(async () => {
    platform = await startTestPlatform('hostile', { config: 'sites:\n  - name: sto\n    kind: datacenter\n' });
    const { api } = platform;
    // The victim's code lives in a folder only its squad's user can read.
    privateBase = mkdtempSync(join(tmpdir(), 'squadron-vault-'));
    vaultDir = join(privateBase, 'vault');
    cpSync(VAULT_FIXTURE, vaultDir, { recursive: true });
    if (isRoot) {
      chmodSync(privateBase, 0o711);
      const victim = ensureSystemUser(squadUserName('vault-keepers'));
      for (const path of [vaultDir, ...filesUnder(vaultDir)]) {
        chownSync(path, victim.uid, victim.gid);
        chmodSync(path, statSync(path).isDirectory() ? 0o700 : 0o600);
      }
    }
    await api.createSquad('vault-keepers');
    await api.createService({ name: 'vault', squad: 'vault-keepers' });
    await api.createSquad('mallory');
    await api.createService({ name: 'intruder', squad: 'mallory' });
    await api.createStorage({ name: 'vault-data', kind: 'kv', service: 'vault', sites: ['sto'] });
    await waitFor(async () => (await api.storage('vault-data')).status === 'ready', 'the vault\'s kv storage', 60_000);
    await api.deploy('vault', { path: vaultDir, sites: ['sto'], instances: 1 });
    await api.deploy('intruder', { path: INTRUDER_DIR, sites: ['sto'], instances: 1 });
    await waitFor(async () => {
      const all = await Promise.all(['vault', 'intruder'].map((s) => api.instances(s)));
      return all.every((l) => l.instances.some((i) => i.state === 'ready'));
    }, 'both services ready', 90_000).catch((err: Error) => {
      // What the instances said is the reason: put it in the failure.
      const logs = filesUnder(join(platform.dataDir, 'logs')).map((f) => `${f}:\n${readFileSync(f, 'utf8').slice(-1500)}`);
      throw new Error(`${err.message}\n${logs.join('\n')}`);
    });
    const key = Identity.newKey();
    const { credential } = await api.clientCredential(key.publicJwk, { site: 'sto', name: 'hostile-test' });
    client = await connect({ site: 'sto', broker: (await api.sites()).sites[0]!.broker!.address, identity: new Identity(credential, key.privateKey) });
  });

  after(async () => {
    await client?.close();
    await platform?.stop();
    if (privateBase) rmSync(privateBase, { recursive: true, force: true });
  });

  it('reads, writes and signals nothing that is not its own, and sees no token', async (t) => {
    const { dataDir } = platform;
    const vault = await client.call<{ pid: number; uid: number }>('vault', 'ping', {});
    const { ppid: agentPid } = await client.call<{ ppid: number }>('intruder', 'parent', {});
    const kvFiles = filesUnder(join(dataDir, 'storage')).filter((f) => /\.(db|sqlite)(-wal)?$/.test(f));
    assert.ok(kvFiles.length > 0, `the kv storage has data files under ${dataDir}/storage`);
    const targets: Targets = {
      read: {
        'the admin token': join(dataDir, 'admin-token'),
        'state.db (the signing key)': join(dataDir, 'state.db'),
        'another squad\'s code': join(vaultDir, 'index.ts'),
        'another squad\'s kv data file': kvFiles[0]!,
        '/etc/shadow': '/etc/shadow',
        'another squad\'s instance environment (its identity key)': `/proc/${vault.pid}/environ`,
        'the agent\'s environment (the admin token)': `/proc/${agentPid}/environ`,
      },
      write: {
        'into the data directory': join(dataDir, 'pwned'),
        'into its own release folder': join(INTRUDER_DIR, 'pwned'),
        'into another squad\'s folder': join(vaultDir, 'pwned'),
        'into the OS temp dir': join(tmpdir(), `pwned-${process.pid}`),
      },
      signal: {
        'another squad\'s instance': vault.pid,
        'the agent': agentPid,
        'the platform (squadron up)': platform.up.child.pid!,
      },
    };
    const { attempts, env, uid } = await client.call<{ attempts: Attempt[]; env: string[]; uid: number }>('intruder', 'attack', targets);
    t.diagnostic(`intruder uid ${uid}, vault uid ${vault.uid}, agent pid ${agentPid}`);
    for (const a of attempts) t.diagnostic(`${a.refused === null ? 'GOT THROUGH' : 'refused    '}  ${a.attempt}${a.refused ? `: ${a.refused}` : ''}`);
    rmSync(join(tmpdir(), `pwned-${process.pid}`), { force: true });

    assert.deepEqual(env, [], 'no token or secret in the instance\'s environment');
    assert.ok(alive(vault.pid) && alive(agentPid), 'the victim and the agent still run');
    if (isRoot) {
      assert.notEqual(uid, 0, 'the intruder does not run as root');
      assert.notEqual(uid, vault.uid, 'two squads run as two users');
      // Every attempt fails, through a child process too: the shared temp folders are read-only in
      // the instance's own mount namespace (see decision 0014).
      const through = attempts.filter((a) => a.refused === null);
      assert.deepEqual(through.map((a) => a.attempt), []);
    } else {
      // Without root, every instance runs as the platform's user: only Node's permission model holds.
      const through = attempts.filter((a) => a.refused === null && !a.attempt.includes('child process'));
      assert.deepEqual(through.map((a) => a.attempt), []);
    }
  });
});
