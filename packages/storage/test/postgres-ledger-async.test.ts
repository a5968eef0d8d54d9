import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ledgerCheck, p50max } from '../chaos/postgres-ledger-check.ts';

// The ledger without --sync: a commit is acknowledged before the standby has it, so a SIGKILL
// of the primary can lose some. The test measures how many and when they were acknowledged.
it('without --sync, the loss window over 5 SIGKILLs of the primary is measured and reported', async (t) => {
  const r = await ledgerCheck({ sync: false, kills: 5, writesBetweenKills: 100, progress: (line) => t.diagnostic(line) });
  const failover = p50max(r.kills.map((k) => k.failoverMs));
  const outage = p50max(r.kills.map((k) => k.writeOutageMs));
  const windows = r.kills.flatMap((k) => (k.lossWindowMs ? [k.lossWindowMs] : []));
  t.diagnostic(`attempted ${r.attempted}, committed ${r.committed}, lost ${r.lost} (over ${windows.length} of 5 kills` +
    (windows.length ? `, acknowledged from ${Math.min(...windows.map((w) => w.from))} ms to ${Math.max(...windows.map((w) => w.to))} ms relative to the kill)` : ')') +
    `; failover p50 ${failover.p50} ms, max ${failover.max} ms; writes back after p50 ${outage.p50} ms, max ${outage.max} ms (${r.seconds.toFixed(1)} s)`);
  assert.equal(r.kills.length, 5);
  assert.ok(r.committed >= 500, `inserts were acknowledged throughout (${r.committed})`);
  for (const k of r.kills) assert.ok(k.writeOutageMs > 0, 'writes came back after every kill');
  // What asynchronous replication may lose is the last moment's commits, not older ones.
  for (const w of windows) assert.ok(w.from > -1_000, `lost inserts were acknowledged within a second of their kill (${w.from} ms)`);
});
