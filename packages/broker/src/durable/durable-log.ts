import { open, readFile, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { encodeRecord, readRecord, resync } from './record.ts';
import { listSegments, openSegment, segmentName, syncDirectory } from './segment-files.ts';

export interface LogPosition {
  segment: number;
  offset: number;
}

export interface DurableLogOptions {
  dir: string;
  /** A segment is closed and a new one started past this size (default 64 MiB). */
  segmentBytes?: number;
  logger: Logger;
  /**
   * Test fault hook: keep a note of how far each fsync reached, and on open discard everything
   * past it, as a power loss would discard writes that were never synced.
   */
  simulatePowerLoss?: boolean;
}

export interface DurableLogStats {
  segments: number;
  appended: number;
  syncs: number;
  /** Records found corrupt on open; never delivered. */
  corrupt: number;
}

type RecordVisitor = (type: number, body: Buffer, position: LogPosition) => void;

interface Pending {
  bytes: Buffer;
  resolve(position: LogPosition): void;
  reject(err: Error): void;
}

const SYNCED_NOTE = 'synced.note';

/**
 * An append-only log in segment files. `append` resolves only once the record is on disk: the
 * appends made while one write-and-fdatasync runs go out together in the next (group commit), so
 * one fsync acknowledges many records and throughput does not pay a sync per record. Opening the
 * log replays every record; a torn tail is cut off, a corrupt record is logged with its place
 * and skipped, never handed on.
 */
export class DurableLog {
  private fh: FileHandle | null = null;
  private note: FileHandle | null = null;
  private segment = 0;
  private size = 0;
  private queue: Pending[] = [];
  private writing = false;
  private closed = false;
  private readonly segmentBytes: number;
  readonly stats: DurableLogStats = { segments: 0, appended: 0, syncs: 0, corrupt: 0 };
  private segments: number[] = [];

  private constructor(private readonly options: DurableLogOptions) {
    this.segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
  }

  /** Open the log in `dir`, calling `visit` for every valid record in order. */
  static async open(options: DurableLogOptions, visit: RecordVisitor): Promise<DurableLog> {
    const log = new DurableLog(options);
    await log.recover(visit);
    return log;
  }

  get segmentIds(): readonly number[] {
    return this.segments;
  }

  /** Append a record (its body in one or more parts); resolves with its place once it is durable. */
  append(type: number, ...body: Uint8Array[]): Promise<LogPosition> {
    if (this.closed) return Promise.reject(new Error('the log is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ bytes: encodeRecord(type, ...body), resolve, reject });
      if (!this.writing) {
        this.writing = true;
        // Let the rest of this turn's appends join the first batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  /** When a segment was last written (its file's modification time), in epoch ms. */
  async segmentWrittenAt(segment: number): Promise<number> {
    return (await stat(join(this.options.dir, segmentName(segment)))).mtimeMs;
  }

  /** Delete whole segments below `segment` (their records are all settled). */
  async removeSegmentsBefore(segment: number): Promise<void> {
    const doomed = this.segments.filter((s) => s < segment && s !== this.segment);
    for (const s of doomed) await unlink(join(this.options.dir, segmentName(s)));
    if (doomed.length > 0) {
      this.segments = this.segments.filter((s) => !doomed.includes(s));
      this.stats.segments = this.segments.length;
      await syncDirectory(this.options.dir);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.writing) await new Promise((r) => setImmediate(r));
    await this.fh?.close();
    await this.note?.close();
    this.fh = null;
    this.note = null;
  }

  /** Write and sync batches until nothing waits. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          if (this.size >= this.segmentBytes) await this.rotate();
          const bytes = batch.length === 1 ? batch[0]!.bytes : Buffer.concat(batch.map((p) => p.bytes));
          const start = this.size;
          await this.fh!.write(bytes, 0, bytes.length, null);
          await this.fh!.datasync();
          this.size += bytes.length;
          this.stats.syncs++;
          this.stats.appended += batch.length;
          if (this.options.simulatePowerLoss) await this.noteSynced();
          let offset = start;
          for (const p of batch) {
            p.resolve({ segment: this.segment, offset });
            offset += p.bytes.length;
          }
        } catch (err) {
          for (const p of batch) p.reject(err as Error);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async rotate(): Promise<void> {
    await this.fh?.close();
    this.segment++;
    const { fh, size } = await openSegment(this.options.dir, this.segment);
    this.fh = fh;
    this.size = size;
    this.segments.push(this.segment);
    this.stats.segments = this.segments.length;
    await syncDirectory(this.options.dir);
  }

  /** One 16-byte write in place: a kill cannot leave it half written, as truncate-then-write could. */
  private async noteSynced(): Promise<void> {
    const note = Buffer.alloc(16);
    note.writeDoubleBE(this.segment, 0);
    note.writeDoubleBE(this.size, 8);
    this.note ??= await open(join(this.options.dir, SYNCED_NOTE), 'w');
    await this.note.write(note, 0, 16, 0);
  }

  /** Power loss, simulated: cut every segment back to what the last fsync covered. */
  private async discardUnsynced(ids: number[]): Promise<number[]> {
    let note: Buffer;
    try {
      note = await readFile(join(this.options.dir, SYNCED_NOTE));
    } catch {
      return ids;
    }
    if (note.length < 16) return ids;
    const segment = note.readDoubleBE(0);
    const size = note.readDoubleBE(8);
    for (const id of ids.filter((s) => s > segment)) await unlink(join(this.options.dir, segmentName(id)));
    if (ids.includes(segment)) await truncate(join(this.options.dir, segmentName(segment)), size);
    return ids.filter((s) => s <= segment);
  }

  private async recover(visit: RecordVisitor): Promise<void> {
    const { dir, logger } = this.options;
    let ids = await listSegments(dir);
    if (this.options.simulatePowerLoss) ids = await this.discardUnsynced(ids);
    for (const id of ids) {
      const path = join(dir, segmentName(id));
      const buf = await readFile(path);
      const last = id === ids[ids.length - 1];
      let at = 0;
      while (at < buf.length) {
        const r = readRecord(buf, at);
        if (r.kind === 'record') {
          visit(r.record.type, r.record.body, { segment: id, offset: at });
          at = r.record.end;
          continue;
        }
        if (r.kind === 'incomplete') {
          if (last) {
            logger.warn({ segment: path, offset: at, dropped: buf.length - at }, 'torn write at the end of the log; cutting it off');
            await truncate(path, at);
          } else {
            this.stats.corrupt++;
            logger.error({ segment: path, offset: at }, 'log segment ends inside a record; the rest of it is skipped');
          }
          break;
        }
        this.stats.corrupt++;
        const next = resync(buf, at + 1);
        logger.error({ segment: path, offset: at, reason: r.reason, resumesAt: next }, 'corrupt record in the log; it is skipped and never delivered');
        if (next < 0) {
          if (last) await truncate(path, at);
          break;
        }
        at = next;
      }
    }
    this.segments = ids;
    this.segment = ids.length > 0 ? ids[ids.length - 1]! : 0;
    if (ids.length === 0) {
      await this.rotate();
    } else {
      const { fh, size } = await openSegment(dir, this.segment);
      this.fh = fh;
      this.size = size;
      this.stats.segments = ids.length;
    }
  }
}
