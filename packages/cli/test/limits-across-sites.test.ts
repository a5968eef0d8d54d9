import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ControlClient, type ServicePolicyBody } from '@squadron/client';
import { Identity } from '@squadron/identity';
import { RateLimitedError } from '@squadron/protocol';
import { connect, type Client } from '@squadron/sdk';
import { squadron, startTestPlatform, waitFor, WORKER_DIR, type TestPlatform } from '@squadron/testkit';

/** The platform's default threshold: 50 calls a second, a burst of 100, per caller. */
const RATE = 50;
const BURST = 100;

interface Outcome {
  ok: number;
  refused: number;
  other: unknown[];
  /** Accepted calls by the site of the instance that answered. */
  sites: Record<string, number>;
  seconds: number;
}

/** One call of worker.echo; `site` sends it to that site's instances first. */
function echo(client: Client, out: Outcome, site?: string): Promise<void> {
  return client.call<{ site: string }>('worker', 'echo', null, { timeoutMs: 5000, ...(site ? { site } : {}) }).then(
    (r) => {
      out.ok++;
      out.sites[r.site] = (out.sites[r.site] ?? 0) + 1;
    },
    (err: unknown) => {
      if (err instanceof RateLimitedError) out.refused++;
      else out.other.push(err);
    },
  );
}

const outcome = (): Outcome => ({ ok: 0, refused: 0, other: [], sites: {}, seconds: 0 });

/** `count` calls at once. */
async function burst(client: Client, count: number, site?: string): Promise<Outcome> {
  const out = outcome();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: count }, () => echo(client, out, site)));
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

/** `perSecond` calls a second, evenly, for `ms`; the k-th call goes to `siteOf(k)`. */
async function drive(client: Client, perSecond: number, ms: number, siteOf: (k: number) => string | undefined = () => undefined): Promise<Outcome> {
  const out = outcome();
  const calls: Array<Promise<void>> = [];
  const t0 = performance.now();
  for (let k = 0; performance.now() - t0 < ms; k++) {
    const wait = t0 + (k * 1000) / perSecond - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    calls.push(echo(client, out, siteOf(k)));
  }
  await Promise.all(calls);
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

/**
 * The default threshold on a platform of two sites, with a service (worker, squad 'bank') of two
 * instances in each: every caller is a client of a squad of its own, so each starts with full
 * buckets. A caller's calls stay in one site, so each site's instances hold its whole threshold.
 */
describe('rate limits across sites, end to end', () => {
  let platform: TestPlatform;
  let bankToken = '';
  const clients: Client[] = [];
  const brokers = new Map<string, string>();

  /** A client of a new squad, in `site`, proving the squad's own credential. */
  const callerIn = async (squad: string, site: string): Promise<Client> => {
    const { token } = await platform.api.createSquad(squad);
    const key = Identity.newKey();
    const { credential } = await new ControlClient({ url: platform.url, token: token! }).clientCredential(key.publicJwk, { site, name: squad });
    const client = await connect({ site, broker: brokers.get(site)!, identity: new Identity(credential, key.privateKey), name: squad });
    clients.push(client);
    await client.waitForInstances('worker', 4, 30_000);
    return client;
  };

  before(async () => {
    platform = await startTestPlatform('limits');
    const { api } = platform;
    bankToken = (await api.createSquad('bank')).token!;
    await api.createService({ name: 'worker', squad: 'bank' });
    await api.deploy('worker', { path: WORKER_DIR, sites: ['sto', 'gcp-eu'], instances: 2 });
    for (const s of (await api.sites()).sites) brokers.set(s.name, s.broker!.address);
  });

  after(async () => {
    for (const c of clients) await c.close();
    await platform?.stop();
  });

  it('gives a caller its whole burst and rate in its own site, where the service also runs in another', async () => {
    const caller = await callerIn('steady', 'sto');
    const first = await burst(caller, 60);
    assert.deepEqual(first.other, []);
    assert.equal(first.ok, 60, `a first burst of 60 all passes (${first.refused} refused)`);
    assert.deepEqual(first.sites, { sto: 60 }, 'the calls stayed in the caller\'s site');

    const steady = await drive(caller, 40, 3000);
    assert.deepEqual(steady.other, []);
    const rate = steady.ok / steady.seconds;
    assert.ok(rate >= 36, `offering 40/s, the caller got ${rate.toFixed(1)}/s (${steady.refused} refused)`);
  });

  it('gives a caller whose calls land in another site the whole threshold there', async () => {
    const caller = await callerIn('roaming', 'sto');
    const landed = await burst(caller, 60, 'gcp-eu');
    assert.deepEqual(landed.other, []);
    assert.equal(landed.ok, 60, `a burst of 60 sent to gcp-eu all passes (${landed.refused} refused)`);
    assert.deepEqual(landed.sites, { 'gcp-eu': 60 });
  });

  it('holds a caller far beyond its threshold to about the threshold, and to no more than the threshold of each site its calls reach', async () => {
    const noisy = await callerIn('noisy', 'sto');
    const one = await drive(noisy, 500, 2000);
    assert.deepEqual(one.other, [], 'the noisy caller only ever got RATE_LIMITED');
    // burst + rate × T over the window, give or take one per instance for the split and one for where the window starts.
    const bound = BURST + RATE * one.seconds;
    assert.ok(one.ok <= bound + 3, `accepted ${one.ok} in ${one.seconds.toFixed(2)} s, bound ${bound.toFixed(0)}`);
    assert.ok(one.ok >= 0.9 * bound, `the caller still got about its threshold: ${one.ok} of ${bound.toFixed(0)}`);

    const spread = await callerIn('spread', 'sto');
    const both = await drive(spread, 500, 2000, (k) => (k % 2 === 0 ? 'sto' : 'gcp-eu'));
    assert.deepEqual(both.other, []);
    const sum = 2 * (BURST + RATE * both.seconds);
    assert.ok(both.ok <= sum + 5, `spread over both sites, accepted ${both.ok} in ${both.seconds.toFixed(2)} s, bound ${sum.toFixed(0)}`);
    assert.ok((both.sites.sto ?? 0) <= sum / 2 + 3 && (both.sites['gcp-eu'] ?? 0) <= sum / 2 + 3, `no site gave more than its threshold: ${JSON.stringify(both.sites)}`);
  });

  it('applies the rate of a grant that names no methods to every method, with topics granted or not', async () => {
    const fast = await callerIn('fast', 'sto');
    const asBank = { ...platform.env, SQUADRON_TOKEN: bankToken };
    const granted = async (...flags: string[]) => {
      const r = await squadron(['grant', 'squad:fast', 'worker', '--rate', '2000/s', ...flags, '--json'], asBank);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as ServicePolicyBody).grants.map((g) => [g.caller, g.methods, g.rate, g.subscribe]);
    };
    const all = { ratePerSecond: 2000, burst: 4000 };
    assert.deepEqual(await granted(), [['squad:fast', null, all, []]], 'every method (null), at 2000/s');
    // A topic beside the rate does not make it a grant of the topic alone.
    assert.deepEqual(await granted('--subscribe', 'worker.seen'), [['squad:fast', null, all, ['worker.seen']]]);
    // In force within a second: twice the default burst passes, then four times it at once.
    await waitFor(async () => (await burst(fast, 2 * BURST)).ok === 2 * BURST, 'the grant to reach the instances', 5000, 100);
    const big = await burst(fast, 4 * BURST);
    assert.deepEqual(big.other, []);
    assert.equal(big.ok, 4 * BURST, `all ${4 * BURST} calls at once passed (${big.refused} refused)`);
  });
});
