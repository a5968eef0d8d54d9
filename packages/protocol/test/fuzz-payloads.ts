/**
 * Generators of payloads, the values inside frames: random values, deep ones, huge ones and
 * malformed bytes. Shared by the codec's property test and the end-to-end payload fuzzer
 * (packages/protocol/fuzz/payload-fuzz.ts).
 */
import fc from 'fast-check';
import { encode } from '../src/index.ts';
import { pseudoRandomBytes } from './fuzz-arbitraries.ts';

/** One payload to send: its bytes, and what kind of payload it is (for the report). */
export interface PayloadCase {
  kind: 'value' | 'deep' | 'huge' | 'malformed' | 'mutated' | 'extension';
  bytes: Buffer;
}

/** Under the default 1 MiB payload limit, with room for a request's own fields around it. */
export const MAX_FUZZ_PAYLOAD = 1024 * 1024 - 4096;

/** `depth` levels of fixarray/fixmap/array16 headers around nil (or a truncated inside). */
function nested(depth: number, header: number, truncated: boolean): Buffer {
  const unit = header === 0x81 ? [0x81, 0xa0] : header === 0xdc ? [0xdc, 0x00, 0x01] : [header];
  const b = Buffer.alloc(depth * unit.length + (truncated ? 0 : 1));
  for (let i = 0; i < depth; i++) b.set(unit, i * unit.length);
  if (!truncated) b[b.length - 1] = 0xc0;
  return b;
}

const arbValue: fc.Arbitrary<PayloadCase> = fc.anything({ maxDepth: 6, withBigInt: false, withTypedArray: true, withDate: true, withMap: true, withSet: true })
  .map((v) => ({ kind: 'value' as const, bytes: encode(v) }));

const arbDeep: fc.Arbitrary<PayloadCase> = fc.tuple(
  fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 3000, max: 300_000 })),
  fc.constantFrom(0x91, 0x81, 0xdc),
  fc.boolean(),
).map(([depth, header, truncated]) => ({ kind: 'deep' as const, bytes: nested(depth, header, truncated) }));

/** Large strings, binaries and arrays of many small items, near the payload limit. */
const arbHuge: fc.Arbitrary<PayloadCase> = fc.tuple(fc.integer({ min: 100_000, max: 900_000 }), fc.constantFrom('string', 'binary', 'array', 'map'), fc.integer())
  .map(([size, shape, seed]) => {
    const value = shape === 'string' ? 'x'.repeat(size)
      : shape === 'binary' ? pseudoRandomBytes(size, seed)
      : shape === 'array' ? Array.from({ length: size >> 3 }, (_, i) => i)
      : Object.fromEntries(Array.from({ length: size >> 5 }, (_, i) => [`k${i}`, i]));
    return { kind: 'huge' as const, bytes: encode(value) };
  });

/** Random bytes, and headers that promise more than follows (a 4 GiB string, map or array). */
const arbMalformed: fc.Arbitrary<PayloadCase> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.tuple(fc.constantFrom(0xdb, 0xc6, 0xdd, 0xdf, 0xc9), fc.uint8Array({ minLength: 4, maxLength: 12 })).map(([h, rest]) => Buffer.from([h, ...rest])),
).map((bytes) => ({ kind: 'malformed' as const, bytes }));

/** A valid encoding cut short, with bytes flipped, or with bytes after its end. */
const arbMutated: fc.Arbitrary<PayloadCase> = fc.tuple(arbValue, fc.nat(), fc.nat({ max: 255 }), fc.constantFrom('truncate', 'flip', 'append'))
  .map(([{ bytes }, at, byte, how]) => {
    const b = Buffer.from(bytes);
    const i = at % b.length;
    if (how === 'truncate') return { kind: 'mutated' as const, bytes: b.subarray(0, Math.max(1, i)) };
    if (how === 'flip') b[i] = byte;
    return { kind: 'mutated' as const, bytes: how === 'append' ? Buffer.concat([b, Buffer.from([byte])]) : b };
  });

/** msgpack extensions of every type (msgpackr gives some a meaning: dates, errors, regexps, typed arrays). */
const arbExtension: fc.Arbitrary<PayloadCase> = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 32 }))
  .map(([type, data]) => ({ kind: 'extension' as const, bytes: Buffer.concat([Buffer.from([0xc7, data.length, type]), data]) }));

/** Any payload the fuzzers send: mostly small ones, some deep, a few near the limit. */
export const arbPayload: fc.Arbitrary<PayloadCase> = fc.oneof(
  { weight: 4, arbitrary: arbValue },
  { weight: 3, arbitrary: arbDeep },
  { weight: 1, arbitrary: arbHuge },
  { weight: 4, arbitrary: arbMalformed },
  { weight: 4, arbitrary: arbMutated },
  { weight: 2, arbitrary: arbExtension },
);
