import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TokenBucket } from '../src/token-bucket.ts';

describe('token bucket', () => {
  it('over any window of T seconds, accepts at most burst + rate × T + 1 calls', () => {
    fc.assert(fc.property(
      fc.double({ min: 0.5, max: 2000, noNaN: true }),
      fc.integer({ min: 1, max: 200 }),
      fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 400 }),
      (rate, burst, gaps) => {
        const bucket = new TokenBucket(rate, burst, 0);
        const accepted: number[] = [];
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          if (bucket.take(now)) accepted.push(now);
        }
        // Every window that starts at an accepted call and ends at a later one.
        for (let i = 0; i < accepted.length; i++) {
          for (let j = i; j < accepted.length; j++) {
            const seconds = (accepted[j]! - accepted[i]!) / 1000;
            assert.ok(j - i + 1 <= burst + rate * seconds + 1, `${j - i + 1} calls in ${seconds} s at ${rate}/s, burst ${burst}`);
          }
        }
      },
    ), { numRuns: 300 });
  });

  it('lets a burst through at once, then exactly the rate, and says when to come back', () => {
    const bucket = new TokenBucket(10, 5, 0);
    assert.equal([...Array(8)].filter(() => bucket.take(0)).length, 5);
    assert.equal(bucket.retryAfterMs(0), 100);
    assert.equal(bucket.take(99), false);
    assert.equal(bucket.take(100), true);
    assert.equal([...Array(20)].filter((_, k) => bucket.take(100 + (k + 1) * 50)).length, 10, 'one every 100 ms at 10/s');
  });

  it('refuses a limit that would let nothing through', () => {
    assert.throws(() => new TokenBucket(0, 10, 0), RangeError);
    assert.throws(() => new TokenBucket(10, 0, 0), RangeError);
  });
});
