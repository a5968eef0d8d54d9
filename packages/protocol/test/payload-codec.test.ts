/**
 * The payload decoder under random, deep, huge and malformed input: it returns a value or throws
 * the one typed error that callers treat as the message's own failure (BAD_REQUEST, undecodable),
 * never anything that would reach the connection, and a failure leaves it able to decode the next.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodePayload, encode, isUndecodable } from '../src/index.ts';
import { arbPayload } from './fuzz-payloads.ts';

const GOOD = encode({ good: true, list: [1, 'two', null] });

describe('decoding payloads under random input', () => {
  it('returns a value or throws BAD_REQUEST (undecodable), and decodes a good payload after either', () => {
    fc.assert(fc.property(arbPayload, fc.nat(16), ({ bytes }, offset) => {
      const framed = Buffer.concat([Buffer.alloc(offset, 0xee), bytes]);
      for (const attempt of [() => decodePayload(bytes), () => decodePayload(framed, offset)]) {
        try {
          attempt();
        } catch (err) {
          if (!isUndecodable(err)) throw err;
        }
      }
      assert.deepEqual(decodePayload(GOOD), { good: true, list: [1, 'two', null] });
    }), { numRuns: 1000 });
  });

  it('says "nested too deep" for a payload past the decoder\'s stack', () => {
    const deep = Buffer.alloc(200_001, 0x91);
    deep[200_000] = 0xc0;
    assert.throws(() => decodePayload(deep), (err: Error) => isUndecodable(err) && /nested too deep/.test(err.message));
  });

  it('refuses structured-clone references, which could build a cyclic value', () => {
    // id 1 on an array that holds a pointer to id 1: a cycle, were references decoded.
    const cyclic = Buffer.from([0xd6, 0x69, 0, 0, 0, 1, 0x91, 0xd6, 0x70, 0, 0, 0, 1]);
    assert.throws(() => decodePayload(cyclic), (err: Error) => isUndecodable(err) && /Structured clone/.test(err.message));
  });
});
