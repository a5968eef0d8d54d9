import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryBroker } from '@squadron/control';
import { ControlClient, type StatusBody } from '@squadron/client';
import { Identity } from '@squadron/identity';
import { AuthFailedError } from '@squadron/protocol';
import { connect } from '@squadron/sdk';
import { squadron, startSquadron, waitFor, alive, WORKER_DIR, type LiveCommand } from '@squadron/testkit';

describe('the squadron command against a running platform', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'squadron-cli-'));
  const env = { SQUADRON_DATA_DIR: dataDir, SQUADRON_LOG_LEVEL: 'warn' };
  let up: LiveCommand;

  const status = async (): Promise<StatusBody> => {
    const r = await squadron(['status', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as StatusBody;
  };
  const instanceCount = async () => (await status()).services.find((s) => s.name === 'worker')?.instances.length ?? 0;

  before(async () => {
    up = startSquadron(['up', '--port', '0', '--service', WORKER_DIR], env);
    await up.waitFor(/squadron ready/, 60_000);
  });

  after(async () => {
    await up.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints the API address and a ready line', () => {
    assert.match(up.stdout(), /API http:\/\/127\.0\.0\.1:\d+/);
    assert.match(up.stdout(), /squadron ready: 2 instances in 2 sites/);
  });

  it('refuses to deploy a folder whose code would load as CommonJS, saying how to fix it', async () => {
    const folder = join(dataDir, 'no-module', 'greeter');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'index.ts'), "import { defineService } from '@squadron/sdk';\nexport default defineService({ name: 'greeter', methods: {} });\n");
    assert.equal((await squadron(['services', 'create', 'greeter', '--squad', 'local'], env)).code, 0);
    const r = await squadron(['deploy', 'greeter', '--path', folder, '--sites', 'sto'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr.trim(), /^BAD_REQUEST: .*would load as CommonJS; services are ES modules: add a package.json with "type": "module"/);
    assert.equal(JSON.parse((await squadron(['services', 'show', 'greeter', '--json'], env)).stdout).release, null, 'nothing was deployed');
  });

  it('runs brokers that refuse whoever does not prove a credential, and a revoked one within a second or so', async () => {
    const { sites } = JSON.parse((await squadron(['sites', '--json'], env)).stdout) as { sites: Array<{ name: string; broker: { address: string } }> };
    const broker = sites.find((s) => s.name === 'sto')!.broker.address;
    await assert.rejects(connect({ site: 'sto', broker, identity: null }), (err: unknown) => err instanceof AuthFailedError && err.details?.reason === 'missing');
    const url = (JSON.parse(readFileSync(join(dataDir, 'platform.json'), 'utf8')) as { url: string }).url;
    const api = new ControlClient({ url, token: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim() });
    const key = Identity.newKey();
    const issued = await api.clientCredential(key.publicJwk, { name: 'soon-revoked' });
    const me = new Identity(issued.credential, key.privateKey);
    const first = await connect({ site: 'sto', broker, identity: me });
    await first.close();
    await api.revokeCredential(issued.id);
    const revokedAt = Date.now();
    await waitFor(() => connect({ site: 'sto', broker, identity: me }).then((c) => c.close().then(() => false), (err: unknown) => err instanceof AuthFailedError && err.details?.reason === 'revoked'), 'the broker to refuse the revoked credential', 5000, 50);
    assert.ok(Date.now() - revokedAt < 3000, `refused ${Date.now() - revokedAt} ms after the revocation`);
  });

  it('lists the sites with their capacity: datacenter slots, cloud elastic', async () => {
    const r = await squadron(['sites'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sto\s+datacenter\s+16 slots per agent \(15 free\)\s+1\s+1\s+tcp:/m);
    assert.match(r.stdout, /^gcp-eu\s+cloud\s+elastic \(\+2\.0 s to provision\)\s+1\s+1\s+tcp:/m);
  });

  it('calls a method and prints the reply as JSON', async () => {
    const r = await squadron(['call', 'worker', 'echo', '{"name":"ada"}'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).req, { name: 'ada' });
    const fromCloud = await squadron(['call', 'worker', 'echo', '1', '--site', 'gcp-eu'], env);
    assert.equal(JSON.parse(fromCloud.stdout).site, 'gcp-eu');
  });

  it('prints one line with the error code and exits non-zero on failure', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['call', 'worker', 'nope'], /^NO_SUCH_METHOD: /],
      [['call', 'nobody', 'x'], /^NO_INSTANCES: /],
      [['call', 'worker', 'boom'], /^HANDLER_ERROR: kaboom$/],
      [['call', 'worker', 'echo', '{not json'], /^BAD_REQUEST: /],
      [['call', 'worker', 'spin', '{"ms":400}', '--timeout', '100'], /^TIMEOUT: /],
    ];
    for (const [args, pattern] of cases) {
      const r = await squadron(args, env);
      assert.notEqual(r.code, 0, `${args.join(' ')} exited 0`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line expected, got: ${r.stderr}`);
      assert.match(lines[0]!, pattern);
    }
  });

  it('publishes and subscribes from the terminal', async () => {
    const sub = startSquadron(['subscribe', 'worker.seen', '--count', '1'], env);
    await sub.waitFor(/subscribed to worker.seen/);
    const pub = await squadron(['publish', 'worker.events', '{"hello":"world"}'], env);
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal(await sub.stop('SIGCONT'), 0);
    const line = JSON.parse(sub.stdout().trim()) as { msg: unknown; site: string };
    assert.deepEqual(line.msg, { hello: 'world' });
  });

  it('shows sites, brokers and live instances, as JSON too', async () => {
    const s = await status();
    assert.deepEqual(s.sites.map((x) => [x.name, x.kind, x.brokerStatus.up]), [['sto', 'datacenter', true], ['gcp-eu', 'cloud', true]]);
    const worker = s.services.find((x) => x.name === 'worker')!;
    assert.deepEqual(worker.instances.map((i) => i.site).sort(), ['gcp-eu', 'sto']);
    for (const i of worker.instances) assert.match(i.address, /^tcp:\/\//);
    const text = await squadron(['status'], env);
    assert.match(text.stdout, /INSTANCES[\s\S]*worker/);
    const one = JSON.parse((await squadron(['status', 'worker', '--json'], env)).stdout) as StatusBody;
    assert.deepEqual(one.services.map((x) => x.name), ['worker']);
    const none = await squadron(['status', 'nobody'], env);
    assert.match(none.stderr, /^NOT_FOUND: no service 'nobody'/);
  });

  it('enqueues, lists queues, and lists and replays dead letters', async () => {
    const done = startSquadron(['subscribe', 'worker.done', '--count', '1'], env);
    await done.waitFor(/subscribed to worker.done/);
    const ok = await squadron(['enqueue', 'worker.jobs', '{"n":1}', '--id', 'job-1', '--json'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { queue: 'worker.jobs', site: 'sto', id: 'job-1', duplicate: false });
    assert.equal(await done.stop('SIGCONT'), 0);
    assert.equal((JSON.parse(done.stdout().trim()) as { id: string }).id, 'job-1');
    assert.deepEqual(JSON.parse((await squadron(['enqueue', 'worker.jobs', '{"n":1}', '--id', 'job-1', '--json'], env)).stdout), { queue: 'worker.jobs', site: 'sto', id: 'job-1', duplicate: true });

    await squadron(['enqueue', 'worker.jobs', '{"fail":true}', '--id', 'job-bad'], env);
    const dead = await waitFor(async () => {
      const r = JSON.parse((await squadron(['dlq', 'list', 'worker.jobs', '--json'], env)).stdout) as { messages: Array<{ id: string; error: string }> };
      return r.messages[0];
    }, 'the dead letter', 15_000, 100);
    assert.equal(dead.id, 'job-bad');
    assert.match(dead.error, /failed on delivery 2/);
    const queues = JSON.parse((await squadron(['queues', '--json'], env)).stdout) as { queues: Array<{ site: string; queue: string; acked: number; dead: number }> };
    const row = queues.queues.find((q) => q.site === 'sto' && q.queue === 'worker.jobs')!;
    assert.deepEqual([row.acked, row.dead], [1, 1]);
    assert.match((await squadron(['dlq', 'replay', 'worker.jobs'], env)).stdout, /^1 message\(s\) of worker.jobs back for delivery/);
  });

  it('runs an instance in the foreground and deregisters it at once on Ctrl-C', async () => {
    const run = startSquadron(['run', WORKER_DIR, '--site', 'sto'], env);
    await run.waitFor(/ready in sto/);
    assert.equal(await instanceCount(), 3);
    // Watch the site's broker directly: a CLI process per poll would be slower than what is measured.
    const { sites } = JSON.parse((await squadron(['sites', '--json'], env)).stdout) as { sites: Array<{ name: string; broker: { address: string } }> };
    const broker = sites.find((s) => s.name === 'sto')!.broker.address;
    // The platform's brokers check who connects: this test proves itself with the admin's client credential.
    const url = (JSON.parse(readFileSync(join(dataDir, 'platform.json'), 'utf8')) as { url: string }).url;
    const api = new ControlClient({ url, token: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim() });
    const key = Identity.newKey();
    const me = new Identity((await api.clientCredential(key.publicJwk, { name: 'cli-test' })).credential, key.privateKey);
    const workers = async () => (await queryBroker(broker, 2000, me)).instances.filter((i) => i.service === 'worker').length;
    assert.equal(await workers(), 2);
    const interrupted = Date.now();
    run.child.kill('SIGINT');
    await waitFor(async () => (await workers()) === 1, 'the instance to leave', 1000);
    assert.ok(Date.now() - interrupted < 1000);
    assert.equal(await run.stop(), 0);
  });

  it('restarts an instance that crashes', async () => {
    const before = (await status()).services.find((s) => s.name === 'worker')!.instances.find((i) => i.site === 'gcp-eu')!;
    process.kill(before.pid, 'SIGKILL');
    await waitFor(async () => {
      const now = (await status()).services.find((s) => s.name === 'worker')?.instances.find((i) => i.site === 'gcp-eu');
      return now !== undefined && now.pid !== before.pid;
    }, 'a new gcp-eu instance', 15_000, 100);
  });

  it('stops everything it started on SIGTERM', async () => {
    const pids = (await status()).services.flatMap((s) => s.instances.map((i) => i.pid));
    assert.ok(pids.length >= 2);
    assert.equal(await up.stop('SIGTERM'), 0);
    await waitFor(() => pids.every((pid) => !alive(pid)), 'every instance process to exit', 10_000);
    const after = await squadron(['status'], env);
    assert.match(after.stderr, /^UNAVAILABLE: /);
  });
});
