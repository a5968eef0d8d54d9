import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crashCheck } from '../chaos/queue-chaos.ts';
import { consumerKillCheck } from '../chaos/consumer-chaos.ts';

// Small versions of `npm run chaos` (see the README): the same checks, fewer messages and kills.
describe('durable messaging under crashes (small)', () => {
  it('loses no acknowledged enqueue while the broker is SIGKILLed', async () => {
    const r = await crashCheck({ messages: 3000, producers: 5, kills: 3, powerLoss: false });
    assert.equal(r.kills, 3);
    assert.ok(r.acknowledged >= 3000);
    assert.deepEqual({ lost: r.lost, unexpected: r.unexpected }, { lost: 0, unexpected: 0 });
  });

  it('loses no acknowledged enqueue when each kill also discards unsynced writes (power loss)', async () => {
    const r = await crashCheck({ messages: 3000, producers: 5, kills: 3, powerLoss: true });
    assert.deepEqual({ lost: r.lost, unexpected: r.unexpected }, { lost: 0, unexpected: 0 });
  });

  it('redelivers every message whose consumer died before acking, and dead-letters a poison message', async () => {
    const r = await consumerKillCheck({ kills: 50, messages: 100 });
    assert.equal(r.lost, 0);
    assert.equal(r.poisonDeadLettered, true);
  });
});
