import { FRAME_HEADER_BYTES } from './limits.ts';
import { MAX_ENVELOPE_FIELD_BYTES } from './envelope.ts';

const INITIAL_BYTES = 16 * 1024;
/** Larger buffers, grown for a burst, are not kept for reuse. */
const MAX_KEPT_BYTES = 256 * 1024;

/**
 * Accumulates encoded frames into one buffer so that everything produced in one event-loop turn
 * leaves in a single socket write. `take()` hands over the bytes and starts a fresh buffer, so
 * what was taken is never overwritten.
 */
export class FrameWriter {
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private length = 0;
  private spare: Buffer | null = null;

  get pendingBytes(): number {
    return this.length;
  }

  /** Append `u32 length | u8 kind | u32 id | body`. */
  frame(kind: number, id: number, body?: Uint8Array): void {
    const bodyLength = body === undefined ? 0 : body.length;
    const at = this.reserve(FRAME_HEADER_BYTES + bodyLength);
    const buf = this.buf;
    buf.writeUInt32BE(FRAME_HEADER_BYTES - 4 + bodyLength, at);
    buf[at + 4] = kind;
    buf.writeUInt32BE(id >>> 0, at + 5);
    if (body !== undefined) buf.set(body, at + FRAME_HEADER_BYTES);
  }

  /**
   * Append a Publish, Message or Forward frame (see envelope.ts). The topic and group come
   * encoded by `encodeEnvelopeField` (callers keep them); the trace id must be ASCII, at most 255
   * characters, or a RangeError is thrown before anything is written.
   */
  envelope(kind: number, id: number, topic: Uint8Array, traceId: string, group: Uint8Array, payload: Uint8Array): void {
    const r = traceId.length;
    if (r > MAX_ENVELOPE_FIELD_BYTES) throw new RangeError(`a trace id is at most ${MAX_ENVELOPE_FIELD_BYTES} characters`);
    const bodyLength = topic.length + 1 + r + group.length + payload.length;
    let at = this.reserve(FRAME_HEADER_BYTES + bodyLength);
    const buf = this.buf;
    buf.writeUInt32BE(FRAME_HEADER_BYTES - 4 + bodyLength, at);
    buf[at + 4] = kind;
    buf.writeUInt32BE(id >>> 0, at + 5);
    at += FRAME_HEADER_BYTES;
    buf.set(topic, at);
    at += topic.length;
    buf[at++] = r;
    at += buf.write(traceId, at, r, 'latin1');
    buf.set(group, at);
    buf.set(payload, at + group.length);
  }

  /**
   * The bytes appended since the last take, or null when there are none. The writer moves on to
   * a fresh buffer: the bytes taken stay the caller's until it hands them back with `recycle`.
   */
  take(): Buffer | null {
    if (this.length === 0) return null;
    const out = this.buf.subarray(0, this.length);
    const spare = this.spare;
    if (spare !== null) {
      this.spare = null;
      this.buf = spare;
    } else {
      this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
    }
    this.length = 0;
    return out;
  }

  /**
   * Give back bytes returned by `take` once nothing refers to them any more (the socket wrote
   * them through), so that the steady state allocates no buffer per flush. Buffers that grew
   * for a burst are let go rather than kept.
   */
  recycle(taken: Buffer): void {
    if (this.spare !== null || taken.byteOffset !== 0) return;
    const size = taken.buffer.byteLength;
    if (size < INITIAL_BYTES || size > MAX_KEPT_BYTES) return;
    this.spare = Buffer.from(taken.buffer, 0, size);
  }

  private reserve(bytes: number): number {
    const at = this.length;
    const needed = at + bytes;
    if (needed > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, at);
      this.buf = grown;
    }
    this.length = needed;
    return at;
  }
}
