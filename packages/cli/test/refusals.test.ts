import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { squadron, startSquadron, startTestPlatform, waitFor, type TestPlatform } from '@squadron/testkit';

const VAULT = fileURLToPath(new URL('./fixtures/access/vault/', import.meta.url));

/** The command's stderr, as the one line a failure prints. */
function oneLine(r: { stderr: string }): string {
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got: ${r.stderr}`);
  return lines[0]!;
}

/**
 * The CLI says what happened and as whom: a subscription the broker refuses fails the command
 * with the refusal (and the grant that would allow it), and every refusal names the identity
 * that acted and where its token came from (SQUADRON_TOKEN, a saved login, the local admin).
 * Topic vault.events belongs to vault, of squad 'bank'; squad 'tools' is refused it.
 */
describe('refusals and who acted, from the terminal', () => {
  let platform: TestPlatform;
  /** Environment for the CLI with no SQUADRON_TOKEN and a login file of this test's own. */
  let env: Record<string, string>;
  let configHome: string;
  let bank: Record<string, string>;
  let tools: Record<string, string>;

  before(async () => {
    platform = await startTestPlatform('refusals', { config: 'sites:\n  - name: sto\n    kind: datacenter\n' });
    configHome = mkdtempSync(join(tmpdir(), 'squadron-login-'));
    env = { ...platform.env, SQUADRON_TOKEN: '', XDG_CONFIG_HOME: configHome };
    const { api } = platform;
    bank = { ...env, SQUADRON_TOKEN: (await api.createSquad('bank')).token! };
    tools = { ...env, SQUADRON_TOKEN: (await api.createSquad('tools')).token! };
    await api.createService({ name: 'vault', squad: 'bank' });
    await api.deploy('vault', { path: VAULT, sites: ['sto'], instances: 1 });
    // The topic is vault's once its running code has said it publishes it.
    await waitFor(async () => (await api.policy('vault')).topics.includes('vault.events'), 'vault to own vault.events', 30_000);
  });

  after(async () => {
    await platform?.stop();
    if (configHome) rmSync(configHome, { recursive: true, force: true });
  });

  it('fails a subscription the broker refuses, printing the refusal and the grant that would allow it', async () => {
    const r = await squadron(['subscribe', 'vault.events'], tools, 15_000);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(oneLine(r), /^PERMISSION_DENIED: topic 'vault.events' belongs to vault \(squad 'bank'\): squad 'tools' may not subscribe to it without a grant; squad 'bank' can grant it: squadron grant squad:tools vault --subscribe vault.events \(acting as squad tools, from SQUADRON_TOKEN\)$/);

    const group = await squadron(['subscribe', 'tools.news', '--group', 'vault'], tools, 15_000);
    assert.equal(group.code, 1, group.stderr);
    assert.match(oneLine(group), /^PERMISSION_DENIED: group 'vault' is service vault's: only its instances share its messages; subscribe with a group of your own \(acting as squad tools, from SQUADRON_TOKEN\)$/);
  });

  it('subscribes once granted, and stops with the refusal when the grant is revoked', async () => {
    assert.equal((await squadron(['grant', 'squad:tools', 'vault', '--subscribe', 'vault.events'], bank)).code, 0);
    // The broker has the grant within a second: until then it refuses, and the command says so.
    const sub = await waitFor(async () => {
      const live = startSquadron(['subscribe', 'vault.events', '--group', 'tools-audit'], tools);
      const outcome = await Promise.race([live.waitFor(/subscribed to vault.events in group tools-audit/).then(() => 'live'), new Promise((r) => live.child.on('exit', r)).then(() => 'refused')]);
      if (outcome === 'live') return live;
      return null;
    }, 'the subscription to be served once granted', 10_000, 100);
    try {
      await platform.api.revoke('squad:tools', 'vault');
      await waitFor(() => sub.child.exitCode !== null, 'the command to exit once refused', 10_000);
    } finally {
      await sub.stop('SIGKILL');
    }
    assert.equal(sub.child.exitCode, 1, 'the command exits non-zero once refused');
    assert.match(sub.stderr(), /^PERMISSION_DENIED: topic 'vault.events' belongs to vault .*squadron grant squad:tools vault --subscribe vault.events \(acting as squad tools, from SQUADRON_TOKEN\)$/m);
    assert.equal(sub.stdout(), '');
  });

  it('says who acts after squadron login, names that login in refusals, and squadron logout undoes it', async () => {
    const admin = await squadron(['whoami'], env);
    assert.equal(admin.stdout, `the admin (from the local admin token (${join(platform.dataDir, 'admin-token')}))\n`);

    const login = await squadron(['login', '--token', tools.SQUADRON_TOKEN!], env);
    assert.equal(login.code, 0, login.stderr);
    const file = join(configHome, 'squadron', 'login.json');
    assert.equal(login.stdout, `logged in to ${platform.url} as squad tools (saved in ${file}); commands now act as squad tools; squadron logout undoes it\n`);
    assert.equal((await squadron(['whoami'], env)).stdout, `squad tools (from squadron login (saved in ${file}))\n`);
    assert.deepEqual(JSON.parse((await squadron(['whoami', '--json'], env)).stdout), { kind: 'squad', name: 'tools', source: 'login', file });

    const forbidden = await squadron(['access', 'vault', 'restricted'], env);
    assert.equal(forbidden.code, 1);
    assert.equal(oneLine(forbidden), "FORBIDDEN: service 'vault' belongs to squad 'bank'; only that squad may change it (you are squad 'tools') (acting as squad tools, from squadron login; run `squadron logout` to act as the local admin)");
    const denied = await squadron(['subscribe', 'vault.events'], env, 15_000);
    assert.equal(denied.code, 1);
    assert.match(oneLine(denied), /^PERMISSION_DENIED: .* \(acting as squad tools, from squadron login; run `squadron logout` to act as the local admin\)$/);
    // SQUADRON_TOKEN wins over the login, and says so.
    assert.equal((await squadron(['whoami'], bank)).stdout, 'squad bank (from SQUADRON_TOKEN)\n');

    const logout = await squadron(['logout'], env);
    assert.equal(logout.code, 0, logout.stderr);
    assert.equal(logout.stdout, `logged out of ${platform.url}; commands act as the admin (from the local admin token (${join(platform.dataDir, 'admin-token')}))\n`);
    assert.deepEqual(JSON.parse((await squadron(['whoami', '--json'], env)).stdout), { kind: 'admin', name: 'admin', source: 'admin-token', file: join(platform.dataDir, 'admin-token') });
    assert.equal((await squadron(['access', 'vault', 'restricted'], env)).code, 0, 'the admin may');
    assert.match((await squadron(['logout'], env)).stdout, /^no login saved for http:\/\/127\.0\.0\.1:\d+; commands act as the admin/);
  });
});
