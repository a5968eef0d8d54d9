import { constants } from 'node:fs';
import { open, readdir, mkdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** Segment files are named by their number, zero-padded so that names sort in order. */
export function segmentName(id: number): string {
  return `${String(id).padStart(12, '0')}.log`;
}

/** The segment numbers present in `dir`, in order. */
export async function listSegments(dir: string): Promise<number[]> {
  await mkdir(dir, { recursive: true });
  const names = await readdir(dir);
  return names
    .filter((n) => /^\d{12}\.log$/.test(n))
    .map((n) => Number(n.slice(0, 12)))
    .sort((a, b) => a - b);
}

/** fsync a directory, so that files created or removed in it survive a power loss. */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Open (creating if needed) a segment to write at its current end. Not in append mode: writes
 * go at the positions the log gives them, so that a batch whose write failed is written over.
 */
export async function openSegment(dir: string, id: number): Promise<{ fh: FileHandle; size: number }> {
  const fh = await open(join(dir, segmentName(id)), constants.O_RDWR | constants.O_CREAT, 0o644);
  const { size } = await fh.stat();
  return { fh, size };
}
