import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * An instance's memory ceiling, enforced twice: V8 gets a heap cap below it, so that a leak of
 * JavaScript objects ends in V8's own out-of-memory abort; and the supervisor kills a process
 * whose resident memory stays above it, which catches what the heap cap cannot see (Buffers,
 * native memory, a heap cap overridden by the service's own flags).
 */

/** What a Node process needs beside its heap (code, stacks, Buffers, the runner's modules). */
const NON_HEAP_MB = 64;

/** The V8 old-space cap for a ceiling: 64 MiB left for the rest, or half of a small ceiling. */
export function heapCapMb(ceilingMb: number): number {
  return Math.max(Math.floor(ceilingMb / 2), ceilingMb - NON_HEAP_MB);
}

/** The Node flag that applies a ceiling's heap cap. */
export function heapCapFlag(ceilingMb: number): string {
  return `--max-old-space-size=${heapCapMb(ceilingMb)}`;
}

/**
 * Counts samples in a row with resident memory over the ceiling. A single sample over it is
 * tolerated (a burst that a garbage collection is about to return); `samples` in a row are not.
 */
export class MemoryWatch {
  private over = 0;

  constructor(readonly ceilingBytes: number, private readonly samples: number) {}

  /** True once resident memory was over the ceiling on `samples` samples in a row. */
  observe(rssBytes: number | null): boolean {
    // An unreadable sample (the process exiting) neither adds to the count nor clears it.
    if (rssBytes === null) return false;
    this.over = rssBytes > this.ceilingBytes ? this.over + 1 : 0;
    return this.over >= this.samples;
  }
}

/** How much of the end of a log is read to find V8's last words. */
const TAIL_BYTES = 16 * 1024;

/**
 * Whether the last run in an instance's log ended in V8's out-of-memory report: V8 prints
 * "JavaScript heap out of memory" and aborts (SIGABRT). False when the log cannot be read.
 */
export function diedOfHeapLimit(logFile: string): boolean {
  let fd: number | null = null;
  try {
    fd = openSync(logFile, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const tail = buf.toString('utf8');
    // Only what the last start wrote: the supervisor marks each start with a `--- ` line.
    return tail.slice(tail.lastIndexOf('\n--- ') + 1).includes('JavaScript heap out of memory');
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
