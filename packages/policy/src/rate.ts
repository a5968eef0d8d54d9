import type { RateLimit } from './policy-set.ts';

const UNITS: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3600 };

/**
 * A rate as people write it: `500/s`, `30/m`, `1000/h` (or a bare number, per second). Throws
 * a TypeError that shows the accepted forms.
 */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*([a-z]+))?\s*$/.exec(text);
  const per = m ? UNITS[m[2] ?? 's'] : undefined;
  const n = m ? Number(m[1]) : NaN;
  if (per === undefined || !(n > 0)) throw new TypeError(`rate '${text}' is not a rate: write it as 500/s, 30/m or 1000/h`);
  return n / per;
}

/** A grant's limit: the rate, and a burst of two seconds' worth unless one is given. */
export function rateLimit(ratePerSecond: number, burst?: number): RateLimit {
  return { ratePerSecond, burst: burst ?? Math.max(1, Math.ceil(ratePerSecond * 2)) };
}

export function formatRate(limit: RateLimit): string {
  const r = Number.isInteger(limit.ratePerSecond) ? String(limit.ratePerSecond) : limit.ratePerSecond.toFixed(2);
  return `${r}/s burst ${limit.burst}`;
}
