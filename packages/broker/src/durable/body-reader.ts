import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { RECORD_HEADER_BYTES, readRecord } from './record.ts';
import { segmentName } from './segment-files.ts';
import type { LogPosition } from './durable-log.ts';

/** One read from disk reaches this far ahead: a deep queue is read back sequentially. */
const READ_AHEAD_BYTES = 256 * 1024;
/** Read-ahead windows kept (several queues may be read back at once). */
const READ_AHEAD_WINDOWS = 4;

interface Window {
  segment: number;
  start: number;
  bytes: Buffer;
}

/**
 * Reads message bodies back from the log when they are delivered, so that the broker keeps only
 * an index in memory, however deep its queues. One read reaches READ_AHEAD_BYTES ahead, since
 * the next delivery is most often the next record: a queue drained from its start costs one
 * read per window, and a consumer keeping up reads each synced batch once. The bytes are fresh
 * in the OS page cache then. There is no cache of bodies in the process: one kept the recent
 * bodies' buffers alive long enough to be promoted, and cost far more resident memory than it
 * saved in reads.
 */
export class BodyReader {
  private readonly files = new Map<number, Promise<FileHandle>>();
  private windows: Window[] = [];

  constructor(private readonly dir: string) {}

  /** The body of the record at `position`, from a read-ahead window or else read from its segment. */
  async read(position: LogPosition): Promise<Buffer> {
    for (const w of this.windows) {
      if (w.segment !== position.segment || position.offset < w.start) continue;
      const r = readRecord(w.bytes, position.offset - w.start);
      if (r.kind === 'record') return r.record.body;
    }
    const fh = await this.file(position.segment);
    let bytes = await readAt(fh, position.offset, READ_AHEAD_BYTES);
    let r = readRecord(bytes, 0);
    if (r.kind === 'incomplete' && bytes.length >= RECORD_HEADER_BYTES) {
      // A record bigger than the window: read it whole.
      bytes = await readAt(fh, position.offset, RECORD_HEADER_BYTES + bytes.readUInt32BE(0));
      r = readRecord(bytes, 0);
    }
    if (r.kind !== 'record') throw new Error(`record at ${segmentName(position.segment)}:${position.offset} is unreadable (${r.kind})`);
    this.windows = [{ segment: position.segment, start: position.offset, bytes }, ...this.windows.slice(0, READ_AHEAD_WINDOWS - 1)];
    return r.record.body;
  }

  async closeSegment(segment: number): Promise<void> {
    const fh = this.files.get(segment);
    this.files.delete(segment);
    this.windows = this.windows.filter((w) => w.segment !== segment);
    await (await fh)?.close();
  }

  async close(): Promise<void> {
    for (const segment of [...this.files.keys()]) await this.closeSegment(segment);
  }

  private file(segment: number): Promise<FileHandle> {
    let fh = this.files.get(segment);
    if (fh === undefined) this.files.set(segment, (fh = open(join(this.dir, segmentName(segment)), 'r')));
    return fh;
  }
}

async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}
