import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runService, defineService, connect, type Client, type RunningService } from '@squadron/sdk';
import { startSites, silent, waitFor, type TestSites } from '@squadron/testkit';
import { RetryBudget } from '../src/retry-budget.ts';
import { DEFAULT_RETRY_POLICY } from '../src/options.ts';

/** Two instances of 'store'; `broken` ones fail every call with a retryable error. */
function storeService(state: { broken: Set<string>; hits: Map<string, number> }) {
  const fail = (instance: string) => {
    state.hits.set(instance, (state.hits.get(instance) ?? 0) + 1);
    if (state.broken.has(instance)) throw Object.assign(new Error(`${instance} is broken`), { retryable: true });
  };
  return defineService({
    name: 'store',
    methods: {
      read: { idempotent: true, handler: (_req: unknown, ctx) => { fail(ctx.instance); return ctx.instance; } },
      append: (_req: unknown, ctx) => { fail(ctx.instance); return ctx.instance; },
    },
  });
}

describe('retries and ejection', () => {
  let sites: TestSites;
  let client: Client;
  const running: RunningService[] = [];
  const state = { broken: new Set<string>(), hits: new Map<string, number>() };

  before(async () => {
    sites = await startSites(['sto']);
    for (let i = 0; i < 2; i++) running.push(await runService(storeService(state), { site: 'sto', broker: sites.address('sto'), logger: silent }));
    client = await connect({ site: 'sto', broker: sites.address('sto'), logger: silent, outlier: { baseEjectionMs: 300 } });
    await client.waitForInstances('store', 2);
  });

  after(async () => {
    await client.close();
    for (const r of running) await r.stop();
    await sites.stop();
  });

  it('retries an idempotent call elsewhere, ejects the failing instance, and probes it back', async () => {
    const bad = running[0]!.info.id;
    state.broken.add(bad);
    state.hits.clear();
    for (let i = 0; i < 200; i++) assert.notEqual(await client.call('store', 'read'), bad);
    const badHits = state.hits.get(bad) ?? 0;
    assert.ok(badHits >= 5 && badHits <= 12, `ejected instance still got ${badHits} of 200 calls`);

    state.broken.delete(bad);
    await waitFor(async () => (await client.call('store', 'read')) === bad, 'the healed instance to be probed back', 10_000, 20);
  });

  it('does not retry a method that is not idempotent', async () => {
    const bad = running[1]!.info.id;
    state.broken.add(bad);
    state.hits.clear();
    let failed = 0;
    for (let i = 0; i < 20; i++) {
      try {
        await client.call('store', 'append');
      } catch (err) {
        assert.equal((err as { code: string }).code, 'HANDLER_ERROR');
        failed++;
      }
    }
    state.broken.delete(bad);
    const total = [...state.hits.values()].reduce((a, b) => a + b, 0);
    assert.ok(failed > 0, 'calls that reached the broken instance must fail');
    assert.equal(total, 20, 'each call ran exactly once');
  });
});

describe('retry budget', () => {
  it('allows retries as a share of calls, plus a small floor', () => {
    const budget = new RetryBudget({ ...DEFAULT_RETRY_POLICY, budgetRatio: 0.1, minRetriesPerSecond: 2 });
    for (let i = 0; i < 100; i++) budget.deposit();
    let granted = 0;
    while (budget.tryWithdraw()) granted++;
    assert.equal(granted, 10 + 2);
  });
});
