/**
 * The fuzz properties of the wire protocol, defined once and run by two drivers:
 * test/frame-fuzz.test.ts (50,000 cases, fails fast and shrinks) and fuzz/frame-fuzz.ts
 * (`npm run fuzz`, a million cases, counts every crash and hang).
 *
 * A property's `run` executes one case. It returns how the case ended (frames decoded, typed
 * errors seen) or throws when the case shows a bug: a wrong result, or an exception that is not
 * a ProtocolError. The drivers time every case; one over HANG_MS counts as a hang.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder, isFrameKind, readEnvelope, decode, encode, ProtocolError } from '../src/index.ts';
import { FRAME_HEADER_BYTES } from '../src/limits.ts';
import { arbFrames, arbCuts, arbMutatedBytes, chunk, writeFrames, type FrameSpec } from './fuzz-arbitraries.ts';
import { arbValidatorInput, validators, errorFromWireNeverThrows, type ValidatorInput } from './fuzz-validators.ts';

/** A case that runs longer than this is a hang. */
export const HANG_MS = 1000;

export interface CaseOutcome {
  frames: number;
  typedErrors: number;
}

export interface FuzzProperty<T> {
  readonly name: string;
  /** Fraction of the total case budget this property gets. */
  readonly share: number;
  readonly arbitrary: fc.Arbitrary<T>;
  run(input: T): CaseOutcome;
}

interface Decoded {
  kind: number;
  id: number;
  body: Buffer;
}

interface DecodeResult {
  frames: Decoded[];
  error: ProtocolError | null;
  pending: number;
}

/** Feed chunks until one throws. Anything thrown that is not a ProtocolError is rethrown: a bug. */
function feed(chunks: Buffer[]): DecodeResult {
  const decoder = new FrameDecoder();
  const frames: Decoded[] = [];
  try {
    for (const c of chunks) decoder.push(c, (kind, id, body) => frames.push({ kind, id, body }));
  } catch (err) {
    if (err instanceof ProtocolError) return { frames, error: err, pending: decoder.pendingBytes };
    throw err;
  }
  return { frames, error: null, pending: decoder.pendingBytes };
}

/** (a) Whatever FrameWriter writes, FrameDecoder gives back exactly, however the bytes are cut. */
export const roundTrip: FuzzProperty<{ frames: FrameSpec[]; cuts: number[] }> = {
  name: 'frames round-trip',
  share: 0.2,
  arbitrary: fc.record({ frames: arbFrames, cuts: arbCuts }),
  run({ frames, cuts }) {
    const bytes = writeFrames(frames);
    const got = feed(chunk(bytes, cuts));
    assert.equal(got.error, null, 'a well-formed stream was refused');
    assert.equal(got.pending, 0, 'bytes left over after whole frames');
    assert.equal(got.frames.length, frames.length);
    frames.forEach((want, i) => {
      const frame = got.frames[i]!;
      assert.equal(frame.kind, want.kind);
      assert.equal(frame.id, want.id);
      if (want.type === 'frame') {
        assert.ok(frame.body.equals(want.body), `body of frame ${i} differs`);
      } else {
        const env = readEnvelope(frame.body);
        assert.deepEqual([env.topic, env.traceId, env.group], [want.topic, want.traceId, want.group], `envelope header of frame ${i} differs`);
        assert.ok(frame.body.subarray(env.payloadOffset).equals(want.payload), `envelope payload of frame ${i} differs`);
      }
    });
    return { frames: got.frames.length, typedErrors: 0 };
  },
};

/**
 * (b) Arbitrary bytes in arbitrary chunks yield frames or a ProtocolError, never anything else;
 * and the chunking changes nothing: the same frames and the same error as one single push.
 */
export const garbageBytes: FuzzProperty<{ bytes: Uint8Array; cuts: number[] }> = {
  name: 'random bytes in random chunks',
  share: 0.35,
  arbitrary: fc.record({ bytes: arbMutatedBytes, cuts: arbCuts }),
  run({ bytes, cuts }) {
    const all = Buffer.from(bytes);
    const chunked = feed(chunk(all, cuts));
    const whole = feed([all]);
    assert.equal(chunked.error?.message, whole.error?.message, 'chunking changed the outcome');
    assert.equal(chunked.frames.length, whole.frames.length, 'chunking changed the frames');
    let used = 0;
    chunked.frames.forEach((f, i) => {
      const w = whole.frames[i]!;
      assert.ok(f.kind === w.kind && f.id === w.id && f.body.equals(w.body), `frame ${i} differs by chunking`);
      assert.ok(isFrameKind(f.kind), `frame of unknown kind ${f.kind} was delivered`);
      used += FRAME_HEADER_BYTES + f.body.length;
    });
    if (chunked.error === null) assert.equal(used + chunked.pending, all.length, 'bytes lost or invented');
    return { frames: chunked.frames.length, typedErrors: chunked.error ? 1 : 0 };
  },
};

/** (c) decode() of any bytes returns a value or throws ProtocolError; valid msgpack always decodes. */
export const msgpackDecode: FuzzProperty<{ bytes: Uint8Array; valid: boolean }> = {
  name: 'msgpack decode',
  share: 0.2,
  arbitrary: fc.oneof(
    fc.uint8Array({ maxLength: 96 }).map((bytes) => ({ bytes, valid: false })),
    fc.jsonValue({ maxDepth: 3 }).map((v) => ({ bytes: encode(v), valid: true })),
    arbMutatedBytes.map((bytes) => ({ bytes, valid: false })),
    fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([v, at, byte]) => {
      const bytes = Buffer.from(encode(v));
      if (bytes.length > 0) bytes[at % bytes.length] = byte;
      return { bytes, valid: false };
    }),
  ),
  run({ bytes, valid }) {
    try {
      decode(bytes);
      return { frames: 0, typedErrors: 0 };
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      assert.ok(!valid, `valid msgpack was refused: ${err.message}`);
      return { frames: 0, typedErrors: 1 };
    }
  },
};

/**
 * (d) Every `as*` validator in messages.ts, given any value, returns or throws ProtocolError, and
 * accepts the well-formed value it was built for; errorFromWire never throws.
 */
export const validatorInputs: FuzzProperty<ValidatorInput> = {
  name: 'message validators',
  share: 0.25,
  arbitrary: arbValidatorInput,
  run({ value, target }) {
    let typedErrors = 0;
    for (const [name, validate] of validators) {
      try {
        validate(value);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        assert.notEqual(name, target, `${name} refused a well-formed value: ${err.message}`);
        typedErrors++;
      }
    }
    errorFromWireNeverThrows(value);
    return { frames: 0, typedErrors };
  },
};

/** Every property, in run order. Each has its own input type, hence `any` here. */
export const properties: ReadonlyArray<FuzzProperty<any>> = [roundTrip, garbageBytes, msgpackDecode, validatorInputs];

/** Case counts per property for a total budget; they add up to `total` exactly. */
export function budget(total: number): number[] {
  const runs = properties.map((p) => Math.floor(total * p.share));
  runs[runs.length - 1]! += total - runs.reduce((a, b) => a + b, 0);
  return runs;
}
