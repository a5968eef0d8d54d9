import { FRAME_HEADER_BYTES } from './limits.ts';

const INITIAL_BYTES = 16 * 1024;

/**
 * Accumulates encoded frames into one buffer so that everything produced in one event-loop turn
 * leaves in a single socket write. `take()` hands over the bytes and starts a fresh buffer, so
 * what was taken is never overwritten.
 */
export class FrameWriter {
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private length = 0;

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
   * Append a frame whose body is `u16 headerLength | header | payload`, the layout of Publish,
   * Message and Forward: a broker reads the small header and forwards the payload untouched.
   */
  envelope(kind: number, id: number, header: Uint8Array, payload: Uint8Array): void {
    // Checked before reserving: a throw after `reserve` would leave a half-written frame queued.
    if (header.length > 0xffff) throw new RangeError(`envelope header of ${header.length} bytes exceeds 65535 bytes`);
    const bodyLength = 2 + header.length + payload.length;
    const at = this.reserve(FRAME_HEADER_BYTES + bodyLength);
    const buf = this.buf;
    buf.writeUInt32BE(FRAME_HEADER_BYTES - 4 + bodyLength, at);
    buf[at + 4] = kind;
    buf.writeUInt32BE(id >>> 0, at + 5);
    buf.writeUInt16BE(header.length, at + FRAME_HEADER_BYTES);
    buf.set(header, at + FRAME_HEADER_BYTES + 2);
    buf.set(payload, at + FRAME_HEADER_BYTES + 2 + header.length);
  }

  /** Append a frame whose body is already laid out (forwarding an envelope as it came). */
  raw(kind: number, id: number, body: Uint8Array): void {
    this.frame(kind, id, body);
  }

  /** The bytes appended since the last take, or null when there are none. */
  take(): Buffer | null {
    if (this.length === 0) return null;
    const out = this.buf.subarray(0, this.length);
    const next = Math.max(INITIAL_BYTES, Math.min(this.buf.length, 1024 * 1024));
    this.buf = Buffer.allocUnsafe(next);
    this.length = 0;
    return out;
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
