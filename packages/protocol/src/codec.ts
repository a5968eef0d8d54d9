import { Packr, Unpackr, REUSE_BUFFER_MODE } from 'msgpackr';
import { BadRequestError, ProtocolError } from './errors.ts';

// Plain msgpack (no record extension) so that any peer can decode any frame on its own, and a
// broker can forward payload bytes from one connection to another without re-encoding them.
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
const transientPackr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
// No structured-clone references: with them a peer could hand a handler a cyclic value, which
// would then overflow the stack wherever it is walked (logged, encoded into a reply).
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false });

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
    throw new ProtocolError(`malformed msgpack body: ${reason(err)}`, { cause: err });
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
    throw new ProtocolError(`malformed msgpack body: ${reason(err)}`, { cause: err });
  }
}

/**
 * Decode one message's payload (a request, a reply, a publish, a queue message), from `start` to
 * the end of `bytes`. What cannot be decoded (malformed, or nested deeper than the decoder's
 * stack) is that message's failure alone: a BadRequestError with `details.undecodable`, which
 * callers handle per message, never a ProtocolError that would close the connection.
 */
export function decodePayload(bytes: Uint8Array, start = 0): unknown {
  if (start >= bytes.length) return undefined;
  try {
    return start === 0 ? unpackr.unpack(bytes) : unpackr.unpack(bytes, { start, end: bytes.length });
  } catch (err) {
    const why = reason(err);
    throw new BadRequestError(`payload cannot be decoded: ${why}`, { cause: err, details: { undecodable: true, reason: why } });
  }
}

/** True for the error `decodePayload` throws. */
export function isUndecodable(err: unknown): err is BadRequestError {
  return err instanceof BadRequestError && err.details?.undecodable === true;
}

/** What went wrong, in words a sender can act on (a stack overflow means: nested too deep). */
function reason(err: unknown): string {
  if (err instanceof RangeError && /call stack/i.test(err.message)) return 'nested too deep';
  return err instanceof Error ? err.message : String(err);
}
