import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** One line of an instance's log file, with the time it is sorted by. */
export interface LogEntry {
  instance: string;
  site: string;
  /** Epoch milliseconds: the line's own `time`, or for a line that is not JSON, the line's before it. */
  time: number;
  /** The line as the file holds it. */
  text: string;
  /** The line parsed, when it is a JSON object; null for anything else (a stack trace on stderr). */
  json: Record<string, unknown> | null;
  /** Its place in its file, so that lines of one time keep their order. */
  seq: number;
}

/** Bytes read at once: a large file is read in pieces, never whole into one buffer. */
const CHUNK_BYTES = 1 << 20;

/**
 * Reads an instance's log file from where it last stopped: each call returns the whole lines
 * written since. A line that is not JSON takes the time of the line before it (a crash's stack
 * trace belongs where its process was); lines before any timed one take the next one's time, or
 * the file's last change when none has come yet. A file that shrank was started afresh: read
 * from its start.
 */
export class LogTail {
  private offset = 0;
  private partial = '';
  private decoder = new StringDecoder('utf8');
  private lastTime: number | null = null;
  private seq = 0;

  constructor(readonly file: string, readonly instance: string, readonly site: string) {}

  /** What was written since the last read; `final`: the file is done, a last line without its newline counts too. */
  read(final = false): LogEntry[] {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return []; // not written yet (an instance still starting), or gone
    }
    const lines: string[] = [];
    let changedAt = Date.now();
    try {
      const stat = fstatSync(fd);
      changedAt = stat.mtimeMs;
      if (stat.size < this.offset) this.restart();
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, stat.size - this.offset)));
      while (this.offset < stat.size) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, stat.size - this.offset), this.offset);
        if (n === 0) break;
        this.offset += n;
        const pieces = (this.partial + this.decoder.write(buffer.subarray(0, n))).split('\n');
        this.partial = pieces.pop()!;
        lines.push(...pieces);
      }
    } finally {
      closeSync(fd);
    }
    if (final && this.partial !== '') {
      lines.push(this.partial);
      this.partial = '';
    }
    return this.entries(lines, changedAt);
  }

  private restart(): void {
    this.offset = 0;
    this.partial = '';
    this.decoder = new StringDecoder('utf8');
  }

  private entries(lines: string[], changedAt: number): LogEntry[] {
    const out: LogEntry[] = [];
    const untimed: LogEntry[] = [];
    for (const raw of lines) {
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (text.trim() === '') continue;
      const json = parseObject(text);
      const own = json === null ? null : timeOf(json.time);
      const entry: LogEntry = { instance: this.instance, site: this.site, time: own ?? this.lastTime ?? 0, text, json, seq: this.seq++ };
      if (own !== null) {
        this.lastTime = own;
        for (const e of untimed.splice(0)) e.time = own;
      } else if (this.lastTime === null) {
        untimed.push(entry);
      }
      out.push(entry);
    }
    for (const e of untimed) e.time = changedAt;
    if (untimed.length > 0) this.lastTime = changedAt;
    return out;
  }
}

function parseObject(text: string): Record<string, unknown> | null {
  if (!text.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : null;
  } catch {
    return null;
  }
}

/** pino writes epoch milliseconds; an ISO time is read too. */
function timeOf(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

/** Time order across files; lines of one time keep their files' order. */
export function byTime(a: LogEntry, b: LogEntry): number {
  return a.time - b.time || (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0) || a.seq - b.seq;
}
