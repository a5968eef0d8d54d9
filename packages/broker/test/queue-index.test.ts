import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MessageState, MessageTable } from '../src/durable/message-table.ts';
import { SeqHeap } from '../src/durable/seq-heap.ts';
import { QueueState } from '../src/durable/queue-state.ts';
import { DedupWindow } from '../src/durable/dedup-window.ts';

const place = (seq: number) => ({ segment: seq % 7, offset: seq * 3 });

describe('queue index', () => {
  it('a message table finds every live message and forgets settled ones, through growth and packing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ op: fc.constant('add' as const), gap: fc.integer({ min: 1, max: 3 }), late: fc.boolean() }), fc.record({ op: fc.constant('settle' as const), pick: fc.nat() })), { maxLength: 6000 }),
        (ops) => {
          const table = new MessageTable();
          const model = new Map<number, { segment: number; offset: number }>();
          let next = 10;
          for (const o of ops) {
            if (o.op === 'add') {
              // A late append: a seq below the newest, not yet used (every third number is kept free).
              const seq = o.late && next > 20 && !model.has(next - 11) && (next - 11) % 3 === 0 ? next - 11 : (next += o.gap * 3);
              if (model.has(seq)) continue;
              const p = place(seq);
              table.add(seq, p.segment, p.offset, 0, MessageState.Ready, seq % 4096);
              model.set(seq, p);
            } else if (model.size > 0) {
              const seqs = [...model.keys()];
              const seq = seqs[o.pick % seqs.length]!;
              table.settle(table.slotOf(seq));
              model.delete(seq);
            }
          }
          assert.equal(table.live, model.size);
          for (const [seq, p] of model) {
            const slot = table.slotOf(seq);
            assert.ok(slot >= 0, `message ${seq} is found`);
            assert.deepEqual({ segment: table.segmentAt(slot), offset: table.offsetAt(slot) }, p);
            assert.equal(table.sizeAt(slot), seq % 4096, `message ${seq} keeps its size`);
          }
          assert.equal(table.slotOf(next + 3), -1);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a heap gives back what it was given, smallest priority first', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 1e6 }), fc.boolean()), { maxLength: 3000 }), (ops) => {
        const heap = new SeqHeap({ byPriority: true });
        const model: Array<[number, number]> = [];
        ops.forEach(([priority, pop], seq) => {
          if (pop && model.length > 0) {
            model.sort((a, b) => a[0] - b[0]);
            const [p] = model.shift()!;
            assert.equal(heap.peekPriority(), p);
            heap.pop();
          } else {
            heap.push(seq, priority);
            model.push([priority, seq]);
          }
        });
        assert.equal(heap.size, model.length);
      }),
      { numRuns: 60 },
    );
  });

  it('a queue hands out each message once until it fails, keeps keys in order, and counts what it holds', () => {
    const q = new QueueState('jobs');
    const now = Date.now();
    for (let seq = 1; seq <= 5000; seq++) q.add(seq, place(seq), now, seq % 100 === 0 ? 'k' : null, 10);
    assert.deepEqual([q.stored, q.bytes], [5000, 50_000]);
    const taken: number[] = [];
    for (let seq = q.take(now); seq >= 0; seq = q.take(now)) taken.push(seq);
    // Of the keyed messages only the first goes out while it is held.
    assert.equal(taken.length, 5000 - 49);
    assert.equal(q.inFlight, 5000 - 49);
    assert.equal(q.depth, 49);
    for (const seq of taken) if (seq !== 100) q.ack(seq);
    assert.equal(q.take(now), -1, 'the key is still held by 100');
    assert.ok(q.fail(100, now, 'boom'));
    assert.equal(q.take(now), 100, 'the failed holder goes first');
    assert.equal(q.deliveries(100), 2);
    q.ack(100);
    assert.equal(q.take(now), 200);
    assert.ok(q.kill(200, 'poison'));
    assert.deepEqual(q.deadSeqs(), [200]);
    assert.equal(q.lastError(200), 'poison');
    assert.equal(q.take(now), 300, 'a dead holder gives up its key');
    assert.equal(q.counters.deadLettered, 1);
    // What it holds: every message not acknowledged, the dead one included.
    assert.deepEqual([q.stored, q.bytes], [5000 - (taken.length - 1) - 1, (5000 - (taken.length - 1) - 1) * 10]);
  });

  it('a dedup window knows an id for its window and no longer, and a forgotten id can be stored again', () => {
    const now = Date.now();
    const w = new DedupWindow(1000);
    w.remember('a', 1, now - 900);
    w.remember('b', 2, now - 100);
    assert.equal(w.lookup('a', now), 1);
    assert.equal(w.lookup('a', now + 200), undefined, 'expired after the window');
    assert.equal(w.lookup('b', now + 200), 2);
    w.remember('c', 3, now);
    w.forget('c', 3);
    assert.equal(w.lookup('c', now), undefined);
    w.remember('c', 4, now + 10);
    // The first, forgotten entry of 'c' expiring must not take the second one with it.
    assert.equal(w.lookup('c', now + 1005), 4);
    assert.equal(w.lookup('c', now + 1011), undefined);
    assert.equal(w.size, 0);
  });
});
