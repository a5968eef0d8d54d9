import { Packr, Unpackr } from 'msgpackr';
import { ProtocolError } from './errors.ts';

// Plain msgpack (no record extension) so that any peer can decode any frame on its own, and a
// broker can forward payload bytes from one connection to another without re-encoding them.
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** Encode a value as msgpack. */
export function encode(value: unknown): Buffer {
  return packr.pack(value);
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
