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
 * Reads message bodies back from the log when they are delivered, so that a deep queue keeps
 * only its index in memory. Recently written bodies are served from a cache bounded in bytes
 * (the usual case: a message consumed soon after it was enqueued); older ones from the log,
 * READ_AHEAD_BYTES at a time, since the next delivery is most often the next record.
 */
export class BodyReader {
  private readonly files = new Map<number, Promise<FileHandle>>();
  private readonly cache = new Map<number, Buffer>();
  private cachedBytes = 0;
  /** Cached seqs in the order they came, for eviction (some already forgotten); from `head` on. */
  private order: number[] = [];
  private head = 0;
  private windows: Window[] = [];

  constructor(private readonly dir: string, private readonly maxCacheBytes: number) {}

  /** Keep a message's record body at hand for its delivery (bounded; the oldest go first). */
  remember(seq: number, body: Buffer): void {
    if (body.length > this.maxCacheBytes / 4) return;
    this.cache.set(seq, body);
    this.order.push(seq);
    this.cachedBytes += body.length;
    while (this.cachedBytes > this.maxCacheBytes && this.head < this.order.length) this.forget(this.order[this.head++]!);
    if (this.order.length - this.head > 2 * this.cache.size + 4096) {
      // Mostly seqs forgotten since (acknowledged): start again from what the cache holds, in order.
      this.order = [...this.cache.keys()];
      this.head = 0;
    }
  }

  forget(seq: number): void {
    const body = this.cache.get(seq);
    if (body === undefined) return;
    this.cache.delete(seq);
    this.cachedBytes -= body.length;
  }

  /** What `remember` kept for this message, if it is still in the cache. */
  cached(seq: number): Buffer | undefined {
    return this.cache.get(seq);
  }

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
