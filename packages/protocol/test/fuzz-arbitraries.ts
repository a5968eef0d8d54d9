/** Generators of frames and byte streams for the protocol's property tests and fuzzer. */
import fc from 'fast-check';
import { FrameKind, FrameWriter, maxFrameLength, DEFAULT_LIMITS, encodeEnvelopeField } from '../src/index.ts';

export const ALL_KINDS: readonly number[] = Object.values(FrameKind);
/** Kinds whose body is an envelope: `u8 length | topic | u8 length | trace | u8 length | group | payload`. */
export const ENVELOPE_KINDS: readonly number[] = [FrameKind.Publish, FrameKind.Message, FrameKind.Forward];

/** One frame to write, and whether to `take()` the writer's bytes right after it. */
export type FrameSpec =
  | { type: 'frame'; kind: number; id: number; body: Buffer; omitBody: boolean; takeAfter: boolean }
  | { type: 'envelope'; kind: number; id: number; topic: string; traceId: string; group: string; payload: Buffer; takeAfter: boolean };

/** `size` bytes from a xorshift generator: large bodies without generating every byte in fast-check. */
export function pseudoRandomBytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed | 0 || 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const sized = (max: number): fc.Arbitrary<Buffer> =>
  fc.tuple(fc.integer({ min: 0, max }), fc.integer()).map(([size, seed]) => pseudoRandomBytes(size, seed));

/** Mostly small bodies, some of a few KiB, a few past the writer's initial 16 KiB buffer. */
export const arbBody: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 12, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
  { weight: 6, arbitrary: sized(4096) },
  { weight: 1, arbitrary: sized(70_000) },
);

const arbId = fc.oneof(fc.constantFrom(0, 1, 0xffffffff), fc.nat({ max: 0xffffffff }));

function arbFrame(body: fc.Arbitrary<Buffer>): fc.Arbitrary<FrameSpec> {
  return fc.oneof(
    fc.record({
      type: fc.constant('frame' as const), kind: fc.constantFrom(...ALL_KINDS), id: arbId, body,
      omitBody: fc.boolean(), takeAfter: fc.boolean(),
    }),
    fc.record({
      type: fc.constant('envelope' as const), kind: fc.constantFrom(...ENVELOPE_KINDS), id: arbId,
      topic: fc.string({ minLength: 1, maxLength: 60 }), traceId: fc.string({ maxLength: 40, unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) }), group: fc.string({ maxLength: 40 }),
      payload: body, takeAfter: fc.boolean(),
    }),
  );
}

export const arbFrames: fc.Arbitrary<FrameSpec[]> = fc.array(arbFrame(arbBody), { maxLength: 6 });
const arbSmallFrames = fc.array(arbFrame(fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b))), { minLength: 1, maxLength: 4 });

/** Where to cut a stream into chunks; taken modulo the stream's length. */
export const arbCuts: fc.Arbitrary<number[]> = fc.array(fc.nat(), { maxLength: 12 });

/** Write the frames, taking the bytes at the marked points, and return everything written. */
export function writeFrames(frames: readonly FrameSpec[]): Buffer {
  const writer = new FrameWriter();
  const taken: Buffer[] = [];
  const take = () => {
    const bytes = writer.take();
    if (bytes !== null) taken.push(bytes);
  };
  for (const f of frames) {
    if (f.type === 'envelope') writer.envelope(f.kind, f.id, encodeEnvelopeField(f.topic), f.traceId, encodeEnvelopeField(f.group), f.payload);
    else if (f.omitBody && f.body.length === 0) writer.frame(f.kind, f.id);
    else writer.frame(f.kind, f.id, f.body);
    if (f.takeAfter) take();
  }
  take();
  // Concatenated only now: bytes taken earlier must not have been overwritten by later frames.
  return Buffer.concat(taken);
}

/** Cut `bytes` at the given points into separate buffers, as separate socket reads would be. */
export function chunk(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(Buffer.from(bytes.subarray(from, p)));
    from = p;
  }
  return chunks;
}

type Mutation =
  | { op: 'set'; at: number; byte: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number };

const arbMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = bytes;
  for (const m of mutations) {
    const at = m.at % (out.length + 1);
    if (m.op === 'set' && at < out.length) out[at] = m.byte;
    else if (m.op === 'truncate') out = out.subarray(0, at);
    else if (m.op === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    else if (m.op === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.count)]);
  }
  return out;
}

const MAX_LENGTH = maxFrameLength(DEFAULT_LIMITS);

/** Frames forged by hand: any kind byte, a length prefix that may disagree with the body that follows. */
const arbForged: fc.Arbitrary<Buffer> = fc
  .array(
    fc.record({
      length: fc.oneof(
        fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 80 }),
        fc.constantFrom(MAX_LENGTH, MAX_LENGTH + 1, 0x7fffffff, 0xffffffff),
      ),
      kind: fc.oneof(fc.constantFrom(...ALL_KINDS), fc.integer({ min: 0, max: 255 })),
      id: fc.nat({ max: 0xffffffff }),
      body: fc.uint8Array({ maxLength: 80 }),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((frames) => Buffer.concat(frames.map((f) => {
    const head = Buffer.allocUnsafe(9);
    head.writeUInt32BE(f.length, 0);
    head[4] = f.kind;
    head.writeUInt32BE(f.id, 5);
    return Buffer.concat([head, f.body]);
  })));

/** Byte streams from pure noise to valid frames with a few bytes changed. */
export const arbMutatedBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 256 }),
  fc.tuple(arbSmallFrames, fc.array(arbMutation, { minLength: 1, maxLength: 4 })).map(([f, m]) => mutate(writeFrames(f), m)),
  arbForged,
);
