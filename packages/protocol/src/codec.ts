import { Packr, Unpackr, REUSE_BUFFER_MODE } from 'msgpackr';
import { ProtocolError } from './errors.ts';

// Plain msgpack (no record extension) so that any peer can decode any frame on its own, and a
// broker can forward payload bytes from one connection to another without re-encoding them.
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
const transientPackr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** Encode a value as msgpack into bytes of its own. */
export function encode(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decode msgpack from `start` to the end of `bytes`, without a view of the range. */
export function decodeFrom(bytes: Uint8Array, start: number): unknown {
  if (start >= bytes.length) return undefined;
  try {
    return unpackr.unpack(bytes, { start, end: bytes.length });
  } catch (err) {
    throw new ProtocolError(`malformed msgpack body: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Encode into a scratch buffer that the next `encodeTransient` call overwrites: for bytes that
 * are copied at once (into a FrameWriter), so that the hot path allocates no buffer per message.
 */
export function encodeTransient(value: unknown): Buffer {
  // In this mode msgpackr hands back its whole scratch buffer, with the encoded span on it.
  const scratch = transientPackr.pack(value, REUSE_BUFFER_MODE) as Buffer & { start: number; end: number };
  return scratch.subarray(scratch.start, scratch.end);
}

/** Decode msgpack from the wire; any malformed input becomes a ProtocolError. */
export function decode(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return undefined;
  try {
    return unpackr.unpack(bytes);
  } catch (err) {
    throw new ProtocolError(`malformed msgpack body: ${(err as Error).message}`, { cause: err });
  }
}
