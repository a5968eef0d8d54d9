import { ProtocolError } from './errors.ts';
import { isFrameKind, frameKindName } from './kinds.ts';
import { FRAME_HEADER_BYTES, maxFrameLength, DEFAULT_LIMITS, type WireLimits } from './limits.ts';

/** Called once per complete frame. `body` stays valid after the call; it is never overwritten. */
export type FrameHandler = (kind: number, id: number, body: Buffer) => void;

/**
 * Incremental frame parser. Feed it bytes as they arrive; it calls back once per frame.
 * It throws ProtocolError on an unknown kind, a length below the header, or a length over the
 * limit. The limit is checked on the 4-byte prefix, before any of the body is buffered.
 */
export class FrameDecoder {
  private readonly maxLength: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes the frame at the head needs in all, once its length prefix is known. */
  private needed = 0;

  constructor(limits: WireLimits = DEFAULT_LIMITS) {
    this.maxLength = maxFrameLength(limits);
  }

  /** Bytes held for a frame not yet complete. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer, onFrame: FrameHandler): void {
    if (this.buffered === 0) {
      this.parse(chunk, onFrame);
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.needed === 0 && this.buffered >= 4) this.needed = this.frameSize(Buffer.concat(this.chunks, 4), 0);
    if (this.needed !== 0 && this.buffered < this.needed) return;
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    this.needed = 0;
    this.parse(joined, onFrame);
  }

  private parse(buf: Buffer, onFrame: FrameHandler): void {
    let offset = 0;
    const end = buf.length;
    while (end - offset >= 4) {
      const size = this.frameSize(buf, offset);
      if (end - offset < size) {
        this.needed = size;
        break;
      }
      const kind = buf[offset + 4]!;
      if (!isFrameKind(kind)) throw new ProtocolError(`unknown frame kind ${frameKindName(kind)}`);
      const id = buf.readUInt32BE(offset + 5);
      const body = buf.subarray(offset + FRAME_HEADER_BYTES, offset + size);
      offset += size;
      onFrame(kind, id, body);
    }
    if (offset < end) {
      const rest = buf.subarray(offset);
      this.chunks = [rest];
      this.buffered = rest.length;
      if (this.needed === 0 && rest.length >= 4) this.needed = this.frameSize(rest, 0);
    }
  }

  /** Whole size of the frame starting at `offset` (prefix included), validated. */
  private frameSize(buf: Buffer, offset: number): number {
    const length = buf.readUInt32BE(offset);
    if (length < FRAME_HEADER_BYTES - 4) throw new ProtocolError(`frame length ${length} is shorter than its header`);
    if (length > this.maxLength) {
      throw new ProtocolError(`frame of ${length} bytes exceeds the limit of ${this.maxLength} bytes`);
    }
    return length + 4;
  }
}
