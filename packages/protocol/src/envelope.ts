import { ProtocolError } from './errors.ts';

/** An envelope body split into its header bytes and its untouched payload bytes. */
export interface EnvelopeParts {
  header: Buffer;
  payload: Buffer;
}

/** Split `u16 headerLength | header | payload`. Throws ProtocolError when it does not fit. */
export function splitEnvelope(body: Buffer): EnvelopeParts {
  if (body.length < 2) throw new ProtocolError('envelope shorter than its header length');
  const headerLength = body.readUInt16BE(0);
  if (2 + headerLength > body.length) throw new ProtocolError('envelope header overruns its frame');
  return { header: body.subarray(2, 2 + headerLength), payload: body.subarray(2 + headerLength) };
}
