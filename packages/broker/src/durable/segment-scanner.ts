import { open } from 'node:fs/promises';
import { MAX_RECORD_BYTES, RECORD_HEADER_BYTES, readRecord, resync } from './record.ts';

/** What a scan of a segment finds, in file order. */
export type ScanItem =
  /** A valid record. `body` is a view into the scan's buffer: valid only until the next item. */
  | { kind: 'record'; type: number; body: Buffer; offset: number }
  /** Bytes that are not a valid record, from `offset`; the next valid record is at `resumesAt` (-1: none). */
  | { kind: 'corrupt'; offset: number; reason: string; resumesAt: number }
  /** The file ends inside a record that starts at `offset`. */
  | { kind: 'torn'; offset: number; dropped: number };

/** Read this much of a segment at a time: memory stays flat however big the log is. */
const WINDOW_BYTES = 2 * (MAX_RECORD_BYTES + RECORD_HEADER_BYTES + 1);
/** A record that starts this far before the window's end is wholly inside it. */
const WHOLE_RECORD_BYTES = MAX_RECORD_BYTES + RECORD_HEADER_BYTES + 1;

/** A window for `scanSegment`, to use for one segment after another. */
export function scanWindow(): Buffer {
  return Buffer.allocUnsafe(WINDOW_BYTES);
}

/** Walk the records of one segment file through a fixed window, never the whole file at once. */
export async function* scanSegment(path: string, buf: Buffer = scanWindow()): AsyncGenerator<ScanItem> {
  const fh = await open(path, 'r');
  try {
    let base = 0; // file offset of buf[0]
    let filled = 0;
    let eof = false;
    let at = 0;
    let corrupt: { offset: number; reason: string } | null = null;
    const refill = async () => {
      buf.copy(buf, 0, at, filled);
      base += at;
      filled -= at;
      at = 0;
      while (filled < buf.length && !eof) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, base + filled);
        if (bytesRead === 0) eof = true;
        filled += bytesRead;
      }
    };
    await refill();
    for (;;) {
      const view = buf.subarray(0, filled);
      if (at >= filled && eof) break;
      if (corrupt !== null) {
        // Looking for the next valid record after a corrupt one.
        const next = resync(view, at);
        if (next >= 0) {
          yield { kind: 'corrupt', ...corrupt, resumesAt: base + next };
          corrupt = null;
          at = next;
        } else if (eof) {
          yield { kind: 'corrupt', ...corrupt, resumesAt: -1 };
          break;
        } else {
          // No record starts before this point, or it would be whole in the window and found.
          at = Math.max(at, filled - WHOLE_RECORD_BYTES);
          await refill();
        }
        continue;
      }
      const r = readRecord(view, at);
      if (r.kind === 'record') {
        yield { kind: 'record', type: r.record.type, body: r.record.body, offset: base + at };
        at = r.record.end;
      } else if (r.kind === 'incomplete') {
        if (eof) {
          if (at < filled) yield { kind: 'torn', offset: base + at, dropped: filled - at };
          break;
        }
        await refill();
      } else {
        corrupt = { offset: base + at, reason: r.reason };
        at++;
      }
    }
  } finally {
    await fh.close();
  }
}
