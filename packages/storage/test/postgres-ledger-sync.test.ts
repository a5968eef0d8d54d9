import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ledgerCheck, p50max } from '../chaos/postgres-ledger-check.ts';

// The small ledger (`node --import tsx packages/storage/chaos/postgres-ledger.ts` kills 20 times):
// unique inserts through the handlers' Pool while the primary is SIGKILLed 5 times, each time
// failed over by the monitor on its own and the killed server rebuilt as the new standby.
it('with --sync, no acknowledged insert is lost over 5 SIGKILLs of the primary', async (t) => {
  const r = await ledgerCheck({ sync: true, kills: 5, writesBetweenKills: 100, progress: (line) => t.diagnostic(line) });
  const failover = p50max(r.kills.map((k) => k.failoverMs));
  const outage = p50max(r.kills.map((k) => k.writeOutageMs));
  t.diagnostic(`attempted ${r.attempted}, committed ${r.committed}, lost ${r.lost}, unacknowledged but present ${r.unacknowledgedPresent}; ` +
    `failover p50 ${failover.p50} ms, max ${failover.max} ms; writes back after p50 ${outage.p50} ms, max ${outage.max} ms (${r.seconds.toFixed(1)} s)`);
  assert.equal(r.kills.length, 5);
  assert.deepEqual(r.kills.map((k) => [k.from, k.to]), [['sto', 'gcp-eu'], ['gcp-eu', 'sto'], ['sto', 'gcp-eu'], ['gcp-eu', 'sto'], ['sto', 'gcp-eu']]);
  assert.ok(r.committed >= 500, `inserts were acknowledged throughout (${r.committed})`);
  assert.equal(r.lost, 0, 'every acknowledged insert is on the last primary');
  for (const k of r.kills) assert.ok(k.writeOutageMs > 0, 'writes came back after every kill');
});
