import type { Row } from './row.ts';

/** The median of some numbers (the lower middle one for an even count). */
function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * Rows of several rounds merged into one row per system and scenario: each measure (rate, p50,
 * p99…) is its median over the rounds. On a shared machine a row run once can land in a slow
 * spell that its peer missed; rounds that interleave every row even that out.
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
    if (rows.length === 1) return rows[0]!; // a row run in one round only: nothing to take a median of
    const ok = rows.filter((r) => r.status === 'ok' && r.rate !== undefined).sort((a, b) => a.rate! - b.rate!);
    if (ok.length === 0) return rows[0]!;
    const middle = ok[Math.floor((ok.length - 1) / 2)]!;
    const of = (pick: (r: Row) => number | undefined) => median(ok.flatMap((r) => { const v = pick(r); return v === undefined ? [] : [v]; }));
    const rates = ok.map((r) => Math.round(r.rate!).toLocaleString('en-US')).join(', ');
    const p99s = ok.flatMap((r) => (r.p99Us === undefined ? [] : [`${(r.p99Us / 1000).toFixed(2)} ms`])).join(', ');
    const note = `median of ${ok.length} rounds (rates ${rates}${p99s ? `; p99 ${p99s}` : ''})`;
    return {
      ...middle,
      rate: of((r) => r.rate), p50Us: of((r) => r.p50Us), p90Us: of((r) => r.p90Us), p99Us: of((r) => r.p99Us),
      p999Us: of((r) => r.p999Us), meanUs: of((r) => r.meanUs),
      note: middle.note ? `${middle.note}; ${note}` : note,
    };
  });
}
