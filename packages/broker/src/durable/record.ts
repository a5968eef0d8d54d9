import { crc32 } from 'node:zlib';

/**
 * One record of the durable log: `u32 length | u32 crc32 | u8 type | body`, where `length`
 * counts type and body and the CRC covers them. A record whose CRC does not match is never
 * trusted: not its body, not its length.
 */
export const RECORD_HEADER_BYTES = 8;

/** Largest record the log accepts (a 1 MiB payload and its envelope fit easily). */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

/** A record whose body is the given parts, laid end to end (each copied once, here). */
export function encodeRecord(type: number, ...parts: Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + 1 + length);
  out.writeUInt32BE(1 + length, 0);
  out[RECORD_HEADER_BYTES] = type;
  let at = RECORD_HEADER_BYTES + 1;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  out.writeUInt32BE(crc32(out.subarray(RECORD_HEADER_BYTES)), 4);
  return out;
}

export interface DecodedRecord {
  type: number;
  body: Buffer;
  /** Offset of the record in its buffer, and the offset just past it. */
  start: number;
  end: number;
}

export type ReadResult =
  | { kind: 'record'; record: DecodedRecord }
  /** The buffer ends inside this record (a torn write at the tail). */
  | { kind: 'incomplete' }
  /** The bytes at this offset are not a valid record. */
  | { kind: 'corrupt'; reason: string };

/** Read the record at `offset`. */
export function readRecord(buf: Buffer, offset: number): ReadResult {
  if (buf.length - offset < RECORD_HEADER_BYTES + 1) return { kind: 'incomplete' };
  const length = buf.readUInt32BE(offset);
  if (length < 1 || length > MAX_RECORD_BYTES) return { kind: 'corrupt', reason: `impossible length ${length}` };
  const end = offset + RECORD_HEADER_BYTES + length;
  if (end > buf.length) return { kind: 'incomplete' };
  const payload = buf.subarray(offset + RECORD_HEADER_BYTES, end);
  if (crc32(payload) !== buf.readUInt32BE(offset + 4)) return { kind: 'corrupt', reason: 'checksum mismatch' };
  return { kind: 'record', record: { type: payload[0]!, body: payload.subarray(1), start: offset, end } };
}

/**
 * After a corrupt record, the next offset where a whole valid record starts, or -1. A CRC32 over
 * the claimed bytes makes a false match about one in four billion per offset tried.
 */
export function resync(buf: Buffer, from: number): number {
  for (let at = from; at + RECORD_HEADER_BYTES + 1 <= buf.length; at++) {
    const r = readRecord(buf, at);
    if (r.kind === 'record') return at;
  }
  return -1;
}
