import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Identity } from '@squadron/identity';
import { connect, type Client } from '@squadron/sdk';
import { squadron, startSquadron, startTestPlatform, waitFor, type TestPlatform } from '@squadron/testkit';

const FIXTURES = fileURLToPath(new URL('./fixtures/logs/', import.meta.url));

interface JsonLine { time: number; instance: string; site: string; msg?: string; text?: string; raw?: boolean; traceId?: string }

/**
 * `squadron logs` on a running platform of two sites, one instance of chatter (squad alpha) in
 * each: the instances' own log files, merged in time order, read through every flag, followed as
 * they grow, and refused to another squad.
 */
describe('squadron logs', () => {
  let platform: TestPlatform;
  let client: Client;
  let env: Record<string, string>;
  let alpha: Record<string, string>;
  let beta: Record<string, string>;
  /** chatter's instance in each site. */
  const instanceIn: Record<string, string> = {};
  const run = randomBytes(4).toString('hex');

  const say = async (text: string, site: string) =>
    (await client.call<{ instance: string }>('chatter', 'say', { text }, { site, timeoutMs: 5_000 })).instance;
  const logs = async (args: string[], as = env) => {
    const r = await squadron(['logs', 'chatter', ...args], as);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l !== '');
  };
  const jsonLogs = async (args: string[]) => (await logs([...args, '--json'])).map((l) => JSON.parse(l) as JsonLine);

  before(async () => {
    platform = await startTestPlatform('logs', {
      config: 'sites:\n  - { name: sto, kind: datacenter }\n  - { name: gcp-eu, kind: datacenter }\n',
      logLevel: 'info',
    });
    const { api } = platform;
    env = platform.env;
    alpha = { ...env, SQUADRON_TOKEN: (await api.createSquad('alpha')).token! };
    beta = { ...env, SQUADRON_TOKEN: (await api.createSquad('beta')).token! };
    await api.createService({ name: 'chatter', squad: 'alpha' });
    await api.deploy('chatter', { path: join(FIXTURES, 'chatter'), sites: ['sto', 'gcp-eu'], instances: 1 });
    const key = Identity.newKey();
    const { credential } = await api.clientCredential(key.publicJwk, { site: 'sto', name: 'logs-test' });
    const { sites } = await api.sites();
    client = await connect({ site: 'sto', broker: sites[0]!.broker!.address, identity: new Identity(credential, key.privateKey), name: 'logs-test' });
    await client.waitForInstances('chatter', 2, 30_000);
    for (const i of (await api.instances('chatter')).instances) instanceIn[i.site] = i.id;
    // Four lines, two from each site's instance, in turns: merged, they come back in this order.
    for (const [n, site] of ['sto', 'gcp-eu', 'sto', 'gcp-eu'].entries()) assert.equal(await say(`turn-${run}-${n}`, site), instanceIn[site]);
  });

  after(async () => {
    await client?.close();
    await platform?.stop();
  });

  it('merges every instance\'s lines in time order, each prefixed by its instance', async () => {
    const lines = (await logs([])).filter((l) => l.includes(`turn-${run}-`) && l.includes('method heard'));
    assert.equal(lines.length, 4, lines.join('\n'));
    const width = Math.max(instanceIn.sto!.length, instanceIn['gcp-eu']!.length);
    ['sto', 'gcp-eu', 'sto', 'gcp-eu'].forEach((site, n) => {
      assert.ok(lines[n]!.startsWith(`${instanceIn[site]!.padEnd(width)} | `), lines[n]);
      assert.match(lines[n]!, new RegExp(` \\| \\S+Z INFO  method heard .*text=turn-${run}-${n}$`));
    });
    const times = lines.map((l) => Date.parse(l.split(' | ')[1]!.split(' ')[0]!));
    assert.deepEqual([...times].sort((a, b) => a - b), times, 'in time order');
  });

  it('--site: only that site\'s instances, and an unknown site refused', async () => {
    const lines = await logs(['--site', 'gcp-eu']);
    assert.ok(lines.some((l) => l.includes(`turn-${run}-1`)), lines.join('\n'));
    assert.deepEqual(lines.filter((l) => !l.startsWith(`${instanceIn['gcp-eu']} | `)), []);
    const wrong = await squadron(['logs', 'chatter', '--site', 'mars'], env);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^BAD_REQUEST: no site 'mars'; the platform has: sto, gcp-eu/);
  });

  it('--grep: only the lines that hold the text', async () => {
    const lines = await logs(['--grep', `turn-${run}-2`]);
    assert.ok(lines.length >= 3, `the method's, the subscription's and the consumer's lines: ${lines.join('\n')}`);
    assert.deepEqual(lines.filter((l) => !l.includes(`turn-${run}-2`)), []);
  });

  it('--json: the lines as JSON, each with its instance and site, in time order', async () => {
    const lines = await jsonLogs([]);
    const heard = lines.filter((l) => l.msg === 'method heard' && l.text?.startsWith(`turn-${run}-`));
    assert.deepEqual(heard.map((l) => [l.text, l.instance, l.site]), ['sto', 'gcp-eu', 'sto', 'gcp-eu'].map((site, n) => [`turn-${run}-${n}`, instanceIn[site], site]));
    assert.ok(heard.every((l) => typeof l.traceId === 'string'), 'the line as the file holds it');
    const times = lines.map((l) => l.time);
    assert.deepEqual([...times].sort((a, b) => a - b), times, 'in time order');
  });

  it('shows a line that is not JSON (stderr) at the time of the line before it', async () => {
    const text = `plain words ${run}`;
    await client.call('chatter', 'raw', { text }, { site: 'sto', timeoutMs: 5_000 });
    const file = join(platform.dataDir, 'logs', 'agent-sto', `${instanceIn.sto}.log`);
    await waitFor(() => readFileSync(file, 'utf8').includes(text), 'the stderr line to reach the instance\'s log file', 10_000, 50);
    const lines = await jsonLogs(['--site', 'sto']);
    const at = lines.findIndex((l) => l.msg === text);
    assert.equal(lines[at]!.raw, true);
    assert.equal(lines[at]!.instance, instanceIn.sto);
    assert.equal(lines[at]!.time, lines[at - 1]!.time, 'the time of the line before it in its file');
    assert.ok((await logs(['--site', 'sto'])).includes(`${instanceIn.sto} | ${text}`), 'as it is, after its instance');
  });

  it('--since: only the lines of the last while', async () => {
    const readyAt = (await jsonLogs(['--site', 'sto'])).find((l) => l.msg === 'instance ready' && l.instance === instanceIn.sto)!.time;
    // A window that starts a second after the instance did: it leaves the start out, and holds a
    // line written now for as long as the command takes to start (seconds, on a busy machine).
    await waitFor(() => Date.now() - readyAt > 10_000, 'the instance to have started 10 s ago', 15_000, 100);
    await say(`fresh-${run}`, 'sto');
    const seconds = Math.floor((Date.now() - readyAt) / 1000) - 1;
    const lines = await jsonLogs(['--since', `${seconds}s`, '--site', 'sto']);
    assert.ok(lines.some((l) => l.text === `fresh-${run}`), JSON.stringify(lines));
    assert.ok(!lines.some((l) => l.msg === 'instance ready'), 'nothing from before the window');
    assert.ok(lines.every((l) => l.time >= readyAt + 1_000));
    const bad = await squadron(['logs', 'chatter', '--since', 'ten minutes'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^BAD_REQUEST: --since takes a number and a unit/);
  });

  it('--follow, as the owner squad: prints lines written after it started, of instances started after it too, until Ctrl-C', async () => {
    const follow = startSquadron(['logs', 'chatter', '--follow', '--grep', run], alpha);
    try {
      await follow.waitFor(new RegExp(`turn-${run}-3`), 15_000);
      await say(`later-${run}`, 'gcp-eu');
      await follow.waitFor(new RegExp(`${instanceIn['gcp-eu']} +\\| .*method heard .*text=later-${run}`), 10_000);
      // A third instance, started after the command: its lines show too.
      await platform.api.scale('chatter', { instances: 2, site: 'sto' });
      await client.waitForInstances('chatter', 3, 30_000);
      const added = (await platform.api.instances('chatter')).instances.find((i) => i.id !== instanceIn.sto && i.id !== instanceIn['gcp-eu'])!;
      await waitFor(async () => {
        await say(`newcomer-${run}`, 'sto');
        return new RegExp(`^${added.id} +\\| `, 'm').test(follow.stdout());
      }, `a line of ${added.id} to show`, 15_000, 300);
    } finally {
      assert.equal(await follow.stop('SIGINT'), 0, follow.stderr());
    }
  });

  it('refuses another squad than the owner (which --follow above acted as)', async () => {
    for (const args of [[], ['--follow']]) {
      const refused = await squadron(['logs', 'chatter', ...args], beta);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^FORBIDDEN: service 'chatter' belongs to squad 'alpha': a squad reads the logs of its own services only \(acting as squad beta, from SQUADRON_TOKEN\)/);
      assert.equal(refused.stdout, '');
    }
  });
});
