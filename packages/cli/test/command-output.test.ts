import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { AuditBody } from '@squadron/client';
import { squadron, startSquadron, startTestPlatform, waitFor, type TestPlatform } from '@squadron/testkit';

const NEWSROOM = fileURLToPath(new URL('./fixtures/catalog/newsroom/', import.meta.url));

/**
 * What the commands print says what the platform holds and what they did: a service's topics in
 * `services show`, the audit of a service by its bare name, and `publish` and `enqueue`
 * confirming what they did, in text and with --json. Newsroom (squad 'press') publishes
 * news.published, subscribes to news.tips and consumes news.edits.
 */
describe('what the commands say', () => {
  let platform: TestPlatform;
  let env: Record<string, string>;
  const run = async (args: string[]) => {
    const r = await squadron(args, env);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    platform = await startTestPlatform('command-output', { config: 'sites:\n  - name: sto\n    kind: datacenter\n' });
    env = { ...platform.env, SQUADRON_TOKEN: platform.adminToken };
    await platform.api.createSquad('press');
    await platform.api.createService({ name: 'newsroom', squad: 'press' });
  });

  after(async () => {
    await platform?.stop();
  });

  it('shows the topics a service publishes and subscribes to, and the queues it consumes', async () => {
    assert.match(await run(['services', 'show', 'newsroom']), /^methods {6}\(these, and the topics and queues it uses, are known once an instance of the release runs\)$/m);
    await platform.api.deploy('newsroom', { path: NEWSROOM, sites: ['sto'], instances: 1 });
    await waitFor(async () => (await platform.api.service('newsroom')).interface, 'newsroom\'s interface, once an instance runs', 30_000, 100);
    const shown = await run(['services', 'show', 'newsroom']);
    assert.match(shown, /^methods {6}ping$/m);
    assert.match(shown, /^publishes {4}news\.published$/m);
    assert.match(shown, /^subscribes {3}news\.tips$/m);
    assert.match(shown, /^consumes {5}news\.edits$/m);
    assert.match(shown, /^owns {9}(?=.*topic news\.published)(?=.*queue news\.edits)/m);
  });

  it('finds a service\'s changes in the audit by its bare name, as by service:NAME, and other kinds by KIND:NAME', async () => {
    const audit = async (target: string) => (JSON.parse(await run(['audit', '--target', target, '--json'])) as { entries: AuditBody[] }).entries;
    const bare = await audit('newsroom');
    assert.deepEqual(bare.map((e) => e.action).filter((a) => a.startsWith('service.')).reverse(), ['service.create', 'service.deploy']);
    assert.ok(bare.every((e) => e.target === 'service:newsroom'));
    assert.deepEqual(await audit('service:newsroom'), bare);
    assert.deepEqual((await audit('squad:press')).map((e) => [e.action, e.target]), [['squad.create', 'squad:press']]);
    assert.deepEqual(await audit('press'), [], 'a bare name is a service\'s');
    assert.match(await run(['audit', '--target', 'newsroom']), /^\S+ \S+\s+admin\s+service\.deploy\s+service:newsroom/m);
  });

  it('publishes, saying from where and how, in text and as JSON', async () => {
    // Newsroom republishes each tip on news.published: a subscriber sees that the publish happened.
    const sub = startSquadron(['subscribe', 'news.published', '--count', '2'], env);
    try {
      await sub.waitFor(/subscribed to news\.published/);
      assert.equal(await run(['publish', 'news.tips', '{"n":1}']), 'published to news.tips from site sto (at most once: delivered to subscribers connected now)\n');
      assert.deepEqual(JSON.parse(await run(['publish', 'news.tips', '{"n":2}', '--json'])), { topic: 'news.tips', site: 'sto', delivery: 'at-most-once' });
      await waitFor(() => sub.child.exitCode !== null, 'both tips to come back on news.published', 10_000);
      assert.equal(sub.child.exitCode, 0);
      assert.deepEqual(sub.stdout().trim().split('\n').map((l) => JSON.parse(l)).sort((a, b) => a.tip.n - b.tip.n), [{ tip: { n: 1 } }, { tip: { n: 2 } }]);
    } finally {
      await sub.stop('SIGKILL');
    }
  });

  it('enqueues, saying what it stored, in text and as JSON', async () => {
    assert.equal(await run(['enqueue', 'news.edits', '{"n":1}', '--id', 'edit-1']), 'enqueued edit-1 to news.edits in site sto, on disk (delivered at least once)\n');
    assert.equal(await run(['enqueue', 'news.edits', '{"n":1}', '--id', 'edit-1']), 'news.edits in site sto already has message edit-1 (the same id within 2 minutes is stored once): nothing added\n');
    assert.deepEqual(JSON.parse(await run(['enqueue', 'news.edits', '{"n":2}', '--id', 'edit-2', '--key', 'k', '--delay', '50', '--json'])),
      { queue: 'news.edits', site: 'sto', id: 'edit-2', duplicate: false, key: 'k', delayMs: 50 });
    assert.deepEqual(JSON.parse(await run(['enqueue', 'news.edits', '{"n":2}', '--id', 'edit-2', '--json'])), { queue: 'news.edits', site: 'sto', id: 'edit-2', duplicate: true });
  });
});
