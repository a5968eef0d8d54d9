import type { Row } from './row.ts';

/**
 * Rows of several rounds merged into one row per system and scenario: the round with the median
 * rate, whole (its p50 and p99 are that round's). On a shared machine a row run once can land
 * in a slow spell that its peer missed; rounds that interleave every row even that out.
 */
export function medianRows(rounds: Row[][]): Row[] {
  if (rounds.length === 1) return rounds[0]!;
  const groups = new Map<string, Row[]>();
  for (const round of rounds) {
    for (const row of round) {
      const key = `${row.system}\u0000${row.scenario}`;
      const list = groups.get(key);
      if (list) list.push(row);
      else groups.set(key, [row]);
    }
  }
  return [...groups.values()].map((rows) => {
    const ok = rows.filter((r) => r.status === 'ok' && r.rate !== undefined).sort((a, b) => a.rate! - b.rate!);
    if (ok.length === 0) return rows[0]!;
    const median = ok[Math.floor((ok.length - 1) / 2)]!;
    const rates = ok.map((r) => Math.round(r.rate!).toLocaleString('en-US')).join(', ');
    const note = `median of ${ok.length} rounds (rates ${rates})`;
    return { ...median, note: median.note ? `${median.note}; ${note}` : note };
  });
}
