import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readRecord } from './record.ts';
import { segmentName } from './segment-files.ts';
import type { LogPosition } from './durable-log.ts';

/**
 * Reads message bodies back from the log when they are delivered, so that a deep queue keeps
 * only its index in memory. Recently written bodies are served from a cache bounded in bytes
 * (the usual case: a message consumed soon after it was enqueued).
 */
export class BodyReader {
  private readonly files = new Map<number, Promise<FileHandle>>();
  private readonly cache = new Map<number, Buffer>();
  private cachedBytes = 0;

  constructor(private readonly dir: string, private readonly maxCacheBytes: number) {}

  /** Keep a message's payload at hand for its delivery (bounded; the oldest go first). */
  remember(seq: number, body: Buffer): void {
    if (body.length > this.maxCacheBytes / 4) return;
    this.cache.set(seq, body);
    this.cachedBytes += body.length;
    for (const [oldest, bytes] of this.cache) {
      if (this.cachedBytes <= this.maxCacheBytes) break;
      this.cache.delete(oldest);
      this.cachedBytes -= bytes.length;
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

  /** The record body at `position`, `length` bytes of record in all, read from its segment. */
  async read(position: LogPosition, length: number): Promise<Buffer> {
    let fh = this.files.get(position.segment);
    if (fh === undefined) this.files.set(position.segment, (fh = open(join(this.dir, segmentName(position.segment)), 'r')));
    const buf = Buffer.allocUnsafe(length);
    const { bytesRead } = await (await fh).read(buf, 0, length, position.offset);
    const r = readRecord(buf.subarray(0, bytesRead), 0);
    if (r.kind !== 'record') throw new Error(`record at ${segmentName(position.segment)}:${position.offset} is unreadable (${r.kind})`);
    return r.record.body;
  }

  async closeSegment(segment: number): Promise<void> {
    const fh = this.files.get(segment);
    this.files.delete(segment);
    await (await fh)?.close();
  }

  async close(): Promise<void> {
    for (const segment of [...this.files.keys()]) await this.closeSegment(segment);
  }
}
