import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PendingCalls } from '../src/pending-calls.ts';

describe('pending calls by request id', () => {
  it('finds, removes and drains calls, growing past the ring when old calls are still waiting', () => {
    const pending = new PendingCalls<{ id: number }>();
    const calls = Array.from({ length: 300 }, (_, i) => ({ id: i + 1 }));
    for (const c of calls) pending.set(c);
    assert.equal(pending.size, 300);
    for (const c of calls) assert.equal(pending.get(c.id), c);
    assert.equal(pending.get(301), undefined);
    assert.equal(pending.delete(7), calls[6]);
    assert.equal(pending.delete(7), undefined, 'a call is removed once');
    assert.equal(pending.size, 299);
    assert.deepEqual(pending.drain().map((c) => c.id), calls.filter((c) => c.id !== 7).map((c) => c.id));
    assert.equal(pending.size, 0);
  });

  it('does not confuse an id with a later one that shares its slot', () => {
    const pending = new PendingCalls<{ id: number }>();
    pending.set({ id: 1 });
    assert.equal(pending.get(1 + 64), undefined);
    assert.equal(pending.delete(1 + 64), undefined);
    assert.equal(pending.size, 1);
  });
});
