import type { QueueLimit, QueueQuotas } from './policy-set.ts';

/**
 * The platform's defaults for durable queues at each site, unless its config says otherwise:
 * a queue holds up to a million messages and 1 GiB of payloads; all of a squad's queues at a
 * site twice that; the queues nobody claimed share a million messages and 1 GiB.
 */
export const DEFAULT_QUEUE_QUOTAS: Readonly<Pick<QueueQuotas, 'queueDefault' | 'squadDefault' | 'unclaimed'>> = Object.freeze({
  queueDefault: { maxMessages: 1_000_000, maxBytes: 1024 ** 3 },
  squadDefault: { maxMessages: 2_000_000, maxBytes: 2 * 1024 ** 3 },
  unclaimed: { maxMessages: 1_000_000, maxBytes: 1024 ** 3 },
});

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/**
 * A size as people write it, in bytes: `65536`, `512KB`, `256MB`, `1.5GB` (units count in
 * 1024s). Throws a TypeError that shows the accepted forms.
 *
 * @example
 * parseByteSize('1GB'); // 1073741824
 */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!(bytes >= 1) || !Number.isSafeInteger(bytes)) throw new TypeError(`'${text}' is not a size: write it as bytes (65536) or with a unit (512KB, 256MB, 1GB)`);
  return bytes;
}

/** A size for people: `1 GiB`, `512 MiB`, `900 B`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${units[u]}`;
}

/** Whether `limit` fits within `total` (a queue's limit within its squad's total). */
export function fitsWithin(limit: QueueLimit, total: QueueLimit): boolean {
  return limit.maxMessages <= total.maxMessages && limit.maxBytes <= total.maxBytes;
}
