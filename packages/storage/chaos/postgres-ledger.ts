// The postgres ledger at full size: unique inserts while the primary is SIGKILLed, with and
// without --sync.   node --import tsx packages/storage/chaos/postgres-ledger.ts
//   CHAOS_PG_KILLS (default 20), CHAOS_PG_WRITERS (default 4)
import { ledgerCheck, p50max, type LedgerResult } from './postgres-ledger-check.ts';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const kills = num('CHAOS_PG_KILLS', 20);
const writers = num('CHAOS_PG_WRITERS', 4);
const say = (line: string) => process.stdout.write(`${line}\n`);
let failed = false;

for (const sync of [true, false]) {
  say(`\n== postgres ${sync ? '--sync' : 'asynchronous'}: primary SIGKILLed ×${kills} under ${writers} writers of unique inserts`);
  const r: LedgerResult = await ledgerCheck({ sync, kills, writers, progress: (l) => say(`  ${l}`) });
  const failover = p50max(r.kills.map((k) => k.failoverMs));
  const outage = p50max(r.kills.map((k) => k.writeOutageMs));
  const windows = r.kills.flatMap((k) => (k.lossWindowMs ? [k.lossWindowMs] : []));
  const window = windows.length ? `${Math.min(...windows.map((w) => w.from))} ms to ${Math.max(...windows.map((w) => w.to))} ms` : 'none';
  say(`attempted ${r.attempted}  committed ${r.committed}  lost ${r.lost}  unacknowledged but present ${r.unacknowledgedPresent}  (${r.kills.length} kills, ${r.seconds.toFixed(0)} s)`);
  say(`failover time p50 ${failover.p50} ms, max ${failover.max} ms; writes back after p50 ${outage.p50} ms, max ${outage.max} ms`);
  if (!sync) say(`loss window: ${r.lost} acknowledged inserts lost over ${r.kills.filter((k) => k.lost > 0).length} of ${r.kills.length} kills, acknowledged from ${window} relative to their kill`);
  if (sync && r.lost > 0) failed = true;
  if (r.kills.length !== kills) failed = true;
}

say(failed ? '\nFAILED' : '\nall checks passed');
process.exit(failed ? 1 : 0);
