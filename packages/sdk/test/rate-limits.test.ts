import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Broker } from '@squadron/broker';
import { RateLimitedError } from '@squadron/protocol';
import { connect, defineService, runService, type Client, type RunningService } from '@squadron/sdk';

const silent = pino({ level: 'silent' });
const LIMIT = { ratePerSecond: 20, burst: 10 };

/** Drive `perSecond` calls for `ms`, evenly; count what was accepted and keep the refusals. */
async function drive(client: Client, perSecond: number, ms: number): Promise<{ ok: number; refused: RateLimitedError[]; other: unknown[]; seconds: number }> {
  const t0 = performance.now();
  const result = { ok: 0, refused: [] as RateLimitedError[], other: [] as unknown[], seconds: 0 };
  const calls: Array<Promise<void>> = [];
  for (let k = 0; performance.now() - t0 < ms; k++) {
    const due = t0 + (k * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    calls.push(client.call('echo', 'ping', k, { timeoutMs: 2000 }).then(() => void result.ok++, (err: unknown) => {
      if (err instanceof RateLimitedError) result.refused.push(err);
      else result.other.push(err);
    }));
  }
  await Promise.all(calls);
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

describe('rate limits at the callee', () => {
  let broker: Broker;
  const instances: RunningService[] = [];
  let quiet: Client;
  let noisy: Client;

  before(async () => {
    broker = new Broker({ site: 'sto', logger: silent });
    await broker.start();
    const def = defineService({ name: 'echo', methods: { ping: async (n: unknown) => n } });
    for (let i = 0; i < 2; i++) instances.push(await runService(def, { site: 'sto', broker: broker.address, logger: silent, rateLimit: LIMIT }));
    quiet = await connect({ site: 'sto', broker: broker.address, name: 'quiet', logger: silent });
    noisy = await connect({ site: 'sto', broker: broker.address, name: 'noisy', logger: silent });
    await quiet.waitForInstances('echo', 2);
    await noisy.waitForInstances('echo', 2);
  });

  after(async () => {
    await quiet?.close();
    await noisy?.close();
    for (const i of instances) await i.stop();
    await broker?.stop();
  });

  it('keeps a quiet caller at 100% while a noisy one sends 10 times its limit, which it holds to the limit across instances', async () => {
    const [q, n] = await Promise.all([drive(quiet, LIMIT.ratePerSecond / 2, 1500), drive(noisy, LIMIT.ratePerSecond * 10, 1500)]);
    assert.deepEqual(q.other, []);
    assert.equal(q.refused.length, 0, 'the quiet caller was never refused');
    assert.ok(q.ok > 0);
    assert.deepEqual(n.other, [], 'the noisy caller only ever got RATE_LIMITED');
    assert.ok(n.refused.length > 0, 'the noisy caller was refused');
    // The service as a whole (two instances, each enforcing half) accepts at most burst + rate × T + 1,
    // plus one per instance for the rounding of the split.
    const bound = LIMIT.burst + LIMIT.ratePerSecond * n.seconds + 1 + instances.length;
    assert.ok(n.ok <= bound, `noisy accepted ${n.ok} in ${n.seconds.toFixed(2)} s, bound ${bound.toFixed(1)}`);
    assert.ok(n.ok >= LIMIT.burst, `noisy still got its burst (${n.ok})`);
    const e = n.refused[0]!;
    assert.equal(e.code, 'RATE_LIMITED');
    assert.ok(e.retryAfterMs > 0 && e.retryAfterMs <= 1000, `retry after ${e.retryAfterMs} ms`);
    assert.equal(e.details?.caller, 'client:noisy');
  });
});
