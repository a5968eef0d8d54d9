/**
 * Property tests of everything that parses bytes from the wire, 50,000 cases in all. The same
 * properties run a million times in `npm run fuzz` (packages/protocol/fuzz/frame-fuzz.ts).
 * A failure prints fast-check's shrunk counterexample and the seed to replay it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  properties, budget, roundTrip, garbageBytes, msgpackDecode, validatorInputs,
} from './fuzz-properties.ts';
import { assertProperty } from './fuzz-runner.ts';
import { validators, wellFormed } from './fuzz-validators.ts';

const TOTAL_CASES = 50_000;
const runs = budget(TOTAL_CASES);
const runsOf = (p: (typeof properties)[number]): number => runs[properties.indexOf(p)]!;

describe('wire parsing under random input', () => {
  it(`splits ${TOTAL_CASES} cases among the properties`, () => {
    assert.equal(runs.reduce((a, b) => a + b, 0), TOTAL_CASES);
    assert.ok(runs.every((n) => n > 0));
  });

  it('(a) arbitrary frames round-trip exactly, however the stream is chunked', () => {
    const tally = assertProperty(roundTrip, runsOf(roundTrip));
    assert.equal(tally.cases, runsOf(roundTrip));
    assert.equal(tally.typedErrors, 0);
    assert.ok(tally.frames > tally.cases, `only ${tally.frames} frames in ${tally.cases} cases`);
  });

  it('(b) random bytes in random chunks give frames or a ProtocolError, never anything else', () => {
    const tally = assertProperty(garbageBytes, runsOf(garbageBytes));
    assert.equal(tally.cases, runsOf(garbageBytes));
    // The inputs reach both outcomes: some streams decode to frames, others are refused.
    assert.ok(tally.frames > 0, 'no input ever decoded to a frame');
    assert.ok(tally.typedErrors > 0, 'no input was ever refused');
    assert.ok(tally.typedErrors < tally.cases, 'every input was refused');
  });

  it('(c) msgpack decode of random bytes returns a value or throws ProtocolError', () => {
    const tally = assertProperty(msgpackDecode, runsOf(msgpackDecode));
    assert.equal(tally.cases, runsOf(msgpackDecode));
    assert.ok(tally.typedErrors > 0 && tally.typedErrors < tally.cases);
  });

  it('(d) every validator in messages.ts returns or throws ProtocolError on any value', () => {
    const tally = assertProperty(validatorInputs, runsOf(validatorInputs));
    assert.equal(tally.cases, runsOf(validatorInputs));
    assert.ok(tally.typedErrors > 0);
  });

  it('(d) has a well-formed generator for every validator messages.ts exports', () => {
    const names = validators.map(([name]) => name);
    for (const expected of ['asAuth', 'asHello', 'asReady', 'asInstanceInfo', 'asSubscribe', 'asInterest', 'asRegistryEvent', 'asRequest']) {
      assert.ok(names.includes(expected), `${expected} is not among the fuzzed validators`);
    }
    for (const name of names) assert.ok(name in wellFormed, `no well-formed generator for ${name} in fuzz-validators.ts`);
  });
});
