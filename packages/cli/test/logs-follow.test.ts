import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { squadron, startSquadron, waitFor } from '@squadron/testkit';
import { startLogsPlatform, type LogsPlatform } from './logs-platform.ts';

/**
 * `squadron logs --follow` on a running platform of two sites, chatter (squad alpha) in each:
 * lines written after it started, of an instance started after it too; and the logs of a
 * service kept to its squad.
 */
describe('squadron logs --follow, and whose logs a squad reads', () => {
  let p: LogsPlatform;

  before(async () => {
    p = await startLogsPlatform('logs-follow');
  });

  after(async () => {
    await p?.stop();
  });

  it('prints lines written after it started, of instances started after it too, until Ctrl-C (as the owner squad)', async () => {
    const { run, instanceIn, platform } = p;
    const follow = startSquadron(['logs', 'chatter', '--follow', '--grep', run], p.alpha);
    try {
      await follow.waitFor(new RegExp(`turn-${run}-3`), 15_000);
      await p.say(`later-${run}`, 'gcp-eu');
      await follow.waitFor(new RegExp(`${instanceIn['gcp-eu']} +\\| .*method heard .*text=later-${run}`), 10_000);
      // A third instance, started after the command: its lines show too.
      await platform.api.scale('chatter', { instances: 2, site: 'sto' });
      const added = await waitFor(async () => (await platform.api.instances('chatter')).instances.find((i) => i.state === 'ready' && !Object.values(instanceIn).includes(i.id)),
        'a third instance of chatter, ready', 30_000, 100);
      await waitFor(async () => {
        await p.say(`newcomer-${run}`, 'sto');
        return new RegExp(`^${added.id} +\\| `, 'm').test(follow.stdout());
      }, `a line of ${added.id} to show`, 15_000, 300);
    } finally {
      assert.equal(await follow.stop('SIGINT'), 0, follow.stderr());
    }
  });

  it('refuses another squad than the owner, with --follow too', async () => {
    for (const args of [[], ['--follow']]) {
      const refused = await squadron(['logs', 'chatter', ...args], p.beta);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^FORBIDDEN: service 'chatter' belongs to squad 'alpha': a squad reads the logs of its own services only \(acting as squad beta, from SQUADRON_TOKEN\)/);
      assert.equal(refused.stdout, '');
    }
  });
});
