/** FrameWriter → FrameDecoder: round trips, envelopes, and the frames the decoder must refuse. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FrameDecoder, FrameWriter, FrameKind, ProtocolError, readEnvelope, encodeEnvelopeField, maxFrameLength, DEFAULT_LIMITS,
  FRAME_HEADER_BYTES, type WireLimits,
} from '../src/index.ts';
import { ALL_KINDS, ENVELOPE_KINDS, pseudoRandomBytes } from './fuzz-arbitraries.ts';

interface Frame {
  kind: number;
  id: number;
  body: Buffer;
}

/** Push each chunk in turn; frames are collected and compared only after the last push. */
function decodeAll(chunks: Buffer[], limits?: WireLimits): Frame[] {
  const decoder = new FrameDecoder(limits);
  const frames: Frame[] = [];
  for (const c of chunks) decoder.push(c, (kind, id, body) => frames.push({ kind, id, body }));
  assert.equal(decoder.pendingBytes, 0, 'bytes left over after whole frames');
  return frames;
}

function write(frames: Frame[]): Buffer {
  const writer = new FrameWriter();
  for (const f of frames) writer.frame(f.kind, f.id, f.body);
  return writer.take() ?? Buffer.alloc(0);
}

/** A frame header claiming `length` bytes after the prefix. */
function header(length: number, kind: number = FrameKind.Ping, id = 0): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_BYTES);
  h.writeUInt32BE(length, 0);
  h[4] = kind;
  h.writeUInt32BE(id, 5);
  return h;
}

const arbFrame: fc.Arbitrary<Frame> = fc.record({
  kind: fc.constantFrom(...ALL_KINDS),
  id: fc.nat({ max: 0xffffffff }),
  body: fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)),
}, { noNullPrototype: true });

describe('FrameWriter → FrameDecoder', () => {
  it('round-trips every kind, with an empty body and with a body', () => {
    const frames = ALL_KINDS.flatMap((kind, i) => [
      { kind, id: i, body: Buffer.alloc(0) },
      { kind, id: 0xffffffff - i, body: Buffer.from(`body of kind ${kind}`) },
    ]);
    assert.deepEqual(decodeAll([write(frames)]), frames);
  });

  it('writes `u32 length | u8 kind | u32 id | body`, length counting the bytes after itself', () => {
    const writer = new FrameWriter();
    writer.frame(FrameKind.Request, 0x01020304, Buffer.from([0xaa, 0xbb]));
    assert.deepEqual([...writer.take()!], [0, 0, 0, 7, FrameKind.Request, 1, 2, 3, 4, 0xaa, 0xbb]);
    assert.equal(writer.take(), null, 'take() hands the bytes over once');
  });

  it('round-trips frames split at every possible chunk boundary', () => {
    fc.assert(fc.property(fc.array(arbFrame, { minLength: 1, maxLength: 5 }), (frames) => {
      const bytes = write(frames);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const chunks = [Buffer.from(bytes.subarray(0, cut)), Buffer.from(bytes.subarray(cut))];
        assert.deepEqual(decodeAll(chunks), frames, `split at byte ${cut}`);
      }
      const oneByteEach = [...bytes].map((b) => Buffer.from([b]));
      assert.deepEqual(decodeAll(oneByteEach), frames, 'one byte per chunk');
    }), { numRuns: 300 });
  });

  it('round-trips bodies of random size up to the largest frame the limits allow', () => {
    const maxBody = maxFrameLength(DEFAULT_LIMITS) - (FRAME_HEADER_BYTES - 4);
    const arbSize = fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 0, max: maxBody }), fc.constant(maxBody));
    fc.assert(fc.property(arbSize, fc.integer(), fc.nat(), (size, seed, cut) => {
      const body = pseudoRandomBytes(size, seed);
      const bytes = write([{ kind: FrameKind.Reply, id: 7, body }]);
      const at = cut % (bytes.length + 1);
      const [frame] = decodeAll([bytes.subarray(0, at), bytes.subarray(at)]);
      assert.ok(frame !== undefined && frame.body.equals(body), `body of ${size} bytes differs`);
    }), { numRuns: 40 });
  });

  it('keeps delivered bodies intact while later frames arrive and the writer is reused', () => {
    const writer = new FrameWriter();
    const decoder = new FrameDecoder();
    const seen: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      writer.frame(FrameKind.Reply, i, Buffer.alloc(1000 + i, i));
      decoder.push(writer.take()!, (_kind, _id, body) => seen.push(body));
    }
    seen.forEach((body, i) => assert.ok(body.equals(Buffer.alloc(1000 + i, i)), `body ${i} was overwritten`));
  });
});

describe('envelope frames', () => {
  it('round-trip topic, trace id, group and payload through writer.envelope and readEnvelope', () => {
    const arbBytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
    const arbField = (min: number) => fc.string({ minLength: min, maxLength: 60, unit: 'grapheme' });
    const arbTrace = fc.string({ maxLength: 60, unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) });
    fc.assert(fc.property(fc.constantFrom(...ENVELOPE_KINDS), fc.nat({ max: 0xffffffff }), arbField(1), arbTrace, arbField(0), arbBytes(2000),
      (kind, id, topic, traceId, group, payload) => {
        const writer = new FrameWriter();
        writer.envelope(kind, id, encodeEnvelopeField(topic), traceId, encodeEnvelopeField(group), payload);
        const [frame] = decodeAll([writer.take()!]);
        assert.ok(frame && frame.kind === kind && frame.id === id);
        const env = readEnvelope(frame.body);
        assert.deepEqual([env.topic, env.traceId, env.group], [topic, traceId, group]);
        assert.ok(frame.body.subarray(env.payloadOffset).equals(payload));
      }), { numRuns: 500 });
  });

  it('takes fields of up to 255 bytes and refuses a longer one without queueing anything', () => {
    const writer = new FrameWriter();
    const none = encodeEnvelopeField('');
    writer.envelope(FrameKind.Publish, 0, encodeEnvelopeField('t'.repeat(255)), 'r', none, Buffer.from('p'));
    assert.equal(readEnvelope(decodeAll([writer.take()!])[0]!.body).topic.length, 255);
    assert.throws(() => encodeEnvelopeField('t'.repeat(256)), RangeError);
    assert.throws(() => encodeEnvelopeField('é'.repeat(128)), RangeError, '256 bytes of UTF-8');
    assert.throws(() => writer.envelope(FrameKind.Publish, 0, encodeEnvelopeField('t'), 'r'.repeat(256), none, Buffer.alloc(1)), RangeError);
    assert.equal(writer.pendingBytes, 0, 'a refused envelope left bytes in the writer');
    writer.frame(FrameKind.Ping, 3);
    assert.deepEqual(decodeAll([writer.take()!]), [{ kind: FrameKind.Ping, id: 3, body: Buffer.alloc(0) }]);
  });

  it('readEnvelope refuses a field overrunning the body, a missing field, or an empty topic', () => {
    assert.throws(() => readEnvelope(Buffer.alloc(0)), ProtocolError);
    assert.throws(() => readEnvelope(Buffer.from([5, 0x61, 0x62])), ProtocolError);
    assert.throws(() => readEnvelope(Buffer.from([1, 0x61])), ProtocolError);
    assert.throws(() => readEnvelope(Buffer.from([0, 0, 0])), ProtocolError);
    assert.deepEqual(readEnvelope(Buffer.from([1, 0x61, 0, 0])), { topic: 'a', traceId: '', group: '', payloadOffset: 4 });
  });
});

describe('FrameDecoder refuses', () => {
  it('an oversized length as soon as its 4-byte prefix arrives, before any body is buffered', () => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(100 * 1024 * 1024);
    const decoder = new FrameDecoder();
    assert.throws(() => decoder.push(prefix, () => assert.fail('no frame expected')), ProtocolError);
    assert.ok(decoder.pendingBytes <= 4, `${decoder.pendingBytes} bytes buffered`);

    // The same when the prefix trickles in one byte at a time, after a whole frame.
    const trickle = new FrameDecoder();
    const frames: number[] = [];
    trickle.push(write([{ kind: FrameKind.Ping, id: 1, body: Buffer.alloc(0) }]), (kind) => frames.push(kind));
    for (const b of prefix.subarray(0, 3)) trickle.push(Buffer.from([b]), () => {});
    assert.throws(() => trickle.push(prefix.subarray(3), () => {}), /exceeds the limit/);
    assert.deepEqual(frames, [FrameKind.Ping]);
    assert.ok(trickle.pendingBytes <= 4);
  });

  it('a length of one past the limit, and accepts the limit itself', () => {
    const limits: WireLimits = { maxPayloadBytes: 100, maxEnvelopeBytes: 20 };
    const max = maxFrameLength(limits);
    assert.throws(() => new FrameDecoder(limits).push(header(max + 1), () => {}), ProtocolError);
    const body = Buffer.alloc(max - (FRAME_HEADER_BYTES - 4), 9);
    assert.deepEqual(decodeAll([header(max, FrameKind.Reply, 1), body], limits), [{ kind: FrameKind.Reply, id: 1, body }]);
  });

  it('a length shorter than the header (0 to 4), and accepts 5, an empty body', () => {
    for (let length = 0; length < FRAME_HEADER_BYTES - 4; length++) {
      assert.throws(() => new FrameDecoder().push(header(length), () => {}), /shorter than its header/, `length ${length}`);
    }
    assert.deepEqual(decodeAll([header(5, FrameKind.Pong, 9)]), [{ kind: FrameKind.Pong, id: 9, body: Buffer.alloc(0) }]);
  });

  it('every kind byte that is not a FrameKind, after delivering the frames before it', () => {
    for (let kind = 0; kind < 256; kind++) {
      if (ALL_KINDS.includes(kind)) continue;
      const bytes = Buffer.concat([header(5, FrameKind.Ping, 1), header(6, kind), Buffer.from([0])]);
      const delivered: number[] = [];
      assert.throws(() => new FrameDecoder().push(bytes, (k) => delivered.push(k)), (err) =>
        err instanceof ProtocolError && err.message === `unknown frame kind unknown(${kind})`);
      assert.deepEqual(delivered, [FrameKind.Ping], `kind ${kind}`);
    }
  });
});
