import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InstanceRecordBody, ServiceBody } from '@squadron/client';
import { squadron, startSquadron, waitFor, alive, freshPostgresDatabase, WORKER_DIR, type LiveCommand, type FreshPostgresDatabase } from '@squadron/testkit';

/**
 * Each part of the platform on its own, as on separate machines: `squadron control` (its state
 * in PostgreSQL), a site's `squadron broker` and `squadron agent` pointed at it; then a squad
 * works through the CLI with its own token.
 */
describe('the platform as separate parts, driven by a squad through the CLI', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'squadron-topology-'));
  const config = mkdtempSync(join(tmpdir(), 'squadron-login-'));
  let pg: FreshPostgresDatabase;
  const parts: LiveCommand[] = [];
  let url = '';
  let admin = '';
  // No data dir for the squad's commands: they know only the address and their token.
  const asSquad = (token: string) => ({ SQUADRON_URL: url, SQUADRON_TOKEN: token, SQUADRON_DATA_DIR: join(dataDir, 'nowhere'), XDG_CONFIG_HOME: config });

  before(async () => {
    pg = await freshPostgresDatabase('topology');
    const control = startSquadron(['control', '--port', '0', '--data-dir', dataDir, '--state', pg.url], { SQUADRON_LOG_LEVEL: 'warn' });
    parts.push(control);
    url = (await control.waitFor(/listening on (http:\/\/\S+);/, 30_000))[1]!;
    admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const env = { SQUADRON_TOKEN: admin, SQUADRON_LOG_LEVEL: 'warn' };
    const broker = startSquadron(['broker', '--site', 'sto', '--control', url, '--data-dir', join(dataDir, 'broker-sto')], env);
    parts.push(broker);
    await broker.waitFor(/listening on/, 30_000);
    const agent = startSquadron(['agent', '--site', 'sto', '--control', url, '--data-dir', dataDir], env);
    parts.push(agent);
    await agent.waitFor(/ready/, 30_000);
  });

  after(async () => {
    for (const p of parts.reverse()) await p.stop('SIGTERM');
    await pg?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(config, { recursive: true, force: true });
  });

  it('creates a squad, whose token then creates, deploys, calls and scales its service', async () => {
    const created = await squadron(['squads', 'create', 'music', '--json'], { SQUADRON_URL: url, SQUADRON_TOKEN: admin });
    assert.equal(created.code, 0, created.stderr);
    const token = (JSON.parse(created.stdout) as { token: string }).token;
    const env = asSquad(token);

    assert.equal((await squadron(['services', 'create', 'worker', '--squad', 'music', '--repo', 'https://git.example/music/worker'], env)).code, 0);
    const deploy = await squadron(['deploy', 'worker', '--path', WORKER_DIR, '--sites', 'sto', '--instances', '2', '--max-memory', '512MB'], env, 60_000);
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.match(deploy.stderr, /worker: 2\/2 ready/, 'the rollout shows its progress');
    assert.match(deploy.stdout, /worker release 1 is running: sto:2/);

    const call = await squadron(['call', 'worker', 'echo', '{"hi":1}'], env);
    assert.equal(call.code, 0, call.stderr);
    assert.deepEqual(JSON.parse(call.stdout).req, { hi: 1 });

    const shown = JSON.parse((await squadron(['services', 'show', 'worker', '--json'], env)).stdout) as ServiceBody;
    assert.equal(shown.squad, 'music');
    assert.ok(shown.interface?.methods.includes('echo'));
    const { instances } = JSON.parse((await squadron(['instances', 'worker', '--json'], env)).stdout) as { instances: InstanceRecordBody[] };
    assert.equal(instances.length, 2);
    assert.ok(instances.every((i) => i.state === 'ready' && i.pid !== null && alive(i.pid)));
    // The memory ceiling it was deployed with, kept with the release and shown with each instance.
    assert.deepEqual(instances.map((i) => [i.maxMemoryMb, i.demoted, i.lastExit]), [[512, false, null], [512, false, null]]);
    assert.match((await squadron(['instances', 'worker'], env)).stdout, /\d+\/512 MB/);
    assert.match((await squadron(['releases', 'worker'], env)).stdout, /MEMORY[^\n]*\n1 .* 512 MB /);

    const scaled = await squadron(['scale', 'worker', '--instances', '1'], env, 60_000);
    assert.equal(scaled.code, 0, scaled.stderr);
    await waitFor(() => instances.some((i) => !alive(i.pid!)), 'one instance to be drained', 20_000);
  });

  it('saves a login, and refuses a wrong token or another squad with one line and the code', async () => {
    const other = JSON.parse((await squadron(['squads', 'create', 'video', '--json'], { SQUADRON_URL: url, SQUADRON_TOKEN: admin })).stdout) as { token: string };
    const login = await squadron(['login', '--token', other.token], { SQUADRON_URL: url, XDG_CONFIG_HOME: config, SQUADRON_DATA_DIR: join(dataDir, 'nowhere') });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /as squad video/);
    const saved = { SQUADRON_URL: url, XDG_CONFIG_HOME: config, SQUADRON_DATA_DIR: join(dataDir, 'nowhere') };
    assert.equal((await squadron(['whoami'], saved)).stdout.trim(), `squad video (from squadron login (saved in ${join(config, 'squadron', 'login.json')}))`);

    // A refusal names who acted and where its token came from; no local admin to fall back to here.
    const forbidden = await squadron(['scale', 'worker', '--instances', '3'], saved);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr.trim(), /^FORBIDDEN: service 'worker' belongs to squad 'music'.* \(acting as squad video, from squadron login; run `squadron logout` to forget it\)$/);
    const wrong = await squadron(['services', 'list'], { ...saved, SQUADRON_TOKEN: 'sqs_wrong' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr.trim(), /^UNAUTHENTICATED: .* \(acting with the token, from SQUADRON_TOKEN\)$/);
    const audit = JSON.parse((await squadron(['audit', '--json'], { SQUADRON_URL: url, SQUADRON_TOKEN: admin })).stdout) as { entries: Array<{ actor: string; action: string }> };
    assert.deepEqual(audit.entries.filter((e) => e.actor === 'squad:music').map((e) => e.action).reverse(), ['service.create', 'service.deploy', 'service.scale']);
  });
});
