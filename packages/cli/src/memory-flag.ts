import { MEMORY_CEILING_MB } from '@squadron/client';
import { UsageError } from './output.ts';

/** MiB per unit; MB and GB count in 1024s, as Node's own memory flags do. */
const UNITS: Record<string, number> = { m: 1, mb: 1, mi: 1, mib: 1, g: 1024, gb: 1024, gi: 1024, gib: 1024 };

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i;

/**
 * A memory size with its unit, in whole MiB within the platform's range: `256MB`, `512M`,
 * `1GB`, `1.5G`. A bare number is refused rather than guessed at (bytes? megabytes?).
 *
 * @example
 * parseMemoryFlag('1GB', '--max-memory'); // 1024
 */
export function parseMemoryFlag(value: string, what: string): number {
  const { min, max } = MEMORY_CEILING_MB;
  const m = SIZE.exec(value);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`${what} takes a size with its unit, such as 256MB, 512M or 1GB; got '${value}'`);
  }
  const mb = Number(m[1]) * unit;
  if (!Number.isInteger(mb)) throw new UsageError(`${what} must be a whole number of MB, got '${value}' (${mb} MB)`);
  if (mb < min || mb > max) throw new UsageError(`${what} must be from ${min}MB to ${max / 1024}GB, got '${value}'`);
  return mb;
}
