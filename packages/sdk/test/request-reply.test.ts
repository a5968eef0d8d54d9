import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runService, defineService, connect, SquadronError, type Client, type RunningService } from '@squadron/sdk';
import { startSites, silent, type TestSites } from '@squadron/testkit';

describe('request-reply', () => {
  let sites: TestSites;
  let client: Client;
  const started: RunningService[] = [];
  const runs = { late: 0, downstream: 0 };
  let downstreamBudget = 0;

  before(async () => {
    sites = await startSites(['sto']);
    const broker = sites.address('sto');
    started.push(await runService(defineService({
      name: 'calc',
      methods: {
        add: (req: { a: number; b: number }) => ({ sum: req.a + req.b }),
        whoami: (_req: unknown, ctx) => ({ site: ctx.site, instance: ctx.instance, traceId: ctx.traceId, remaining: ctx.remainingMs() }),
        fail: () => { throw Object.assign(new Error('disk on fire'), { retryable: true }); },
        spin: (req: { ms: number }) => {
          const until = Date.now() + req.ms;
          while (Date.now() < until) { /* block the event loop */ }
          return { ok: true };
        },
        late: () => { runs.late++; return { ran: true }; },
        chain: async (_req: unknown, ctx) => ctx.call('leaf', 'budget', null),
        huge: (req: { bytes: number }) => 'x'.repeat(req.bytes),
      },
    }), { site: 'sto', broker, logger: silent }));
    started.push(await runService(defineService({
      name: 'leaf',
      methods: {
        budget: (_req: unknown, ctx) => { runs.downstream++; downstreamBudget = ctx.remainingMs(); return { traceId: ctx.traceId }; },
      },
    }), { site: 'sto', broker, logger: silent }));
    client = await connect({ site: 'sto', broker, logger: silent });
    await client.waitForInstances('calc');
    await client.waitForInstances('leaf');
  });

  after(async () => {
    await client.close();
    for (const s of started) await s.stop();
    await sites.stop();
  });

  it('returns the reply of the callee, with the caller site and trace in its context', async () => {
    assert.deepEqual(await client.call('calc', 'add', { a: 2, b: 3 }), { sum: 5 });
    const who = await client.call<{ site: string; traceId: string; remaining: number }>('calc', 'whoami', null, { traceId: 'trace-1', timeoutMs: 800 });
    assert.equal(who.site, 'sto');
    assert.equal(who.traceId, 'trace-1');
    assert.ok(who.remaining > 0 && who.remaining <= 800, `remaining ${who.remaining}`);
  });

  it('goes straight to the instance: calls go on with the broker gone', async () => {
    await client.call('calc', 'add', { a: 1, b: 1 }); // the channel to the instance is open
    await sites.brokers.get('sto')!.stop();
    for (let i = 0; i < 50; i++) assert.deepEqual(await client.call('calc', 'add', { a: i, b: 1 }), { sum: i + 1 });
    assert.equal(sites.brokers.get('sto')!.stats().published, 0);
  });

  it('brings a thrown error back typed, with its message and retryable flag', async () => {
    await assert.rejects(client.call('calc', 'fail'), (err: SquadronError) => {
      assert.equal(err.code, 'HANDLER_ERROR');
      assert.equal(err.message, 'disk on fire');
      assert.equal(err.retryable, true);
      return true;
    });
    await assert.rejects(client.call('calc', 'nope'), { code: 'NO_SUCH_METHOD' });
    await assert.rejects(client.call('nobody', 'x'), { code: 'NO_INSTANCES' });
  });

  it('does not start a request whose deadline passed before the callee reached it', async () => {
    const before = runs.late;
    // Both requests leave in one write; the first blocks the callee past the second's deadline.
    const spin = client.call('calc', 'spin', { ms: 300 }, { timeoutMs: 2000 });
    const late = client.call('calc', 'late', null, { timeoutMs: 50 });
    await assert.rejects(late, (err: SquadronError) => ['DEADLINE_EXCEEDED', 'TIMEOUT'].includes(err.code));
    await spin;
    assert.equal(runs.late, before, 'the expired request must not run');
  });

  it('carries the remaining deadline and the trace to downstream calls', async () => {
    const reply = await client.call<{ traceId: string }>('calc', 'chain', null, { timeoutMs: 400, traceId: 'trace-chain' });
    assert.equal(reply.traceId, 'trace-chain');
    assert.ok(downstreamBudget > 0 && downstreamBudget <= 400, `downstream saw ${downstreamBudget} ms`);
  });

  it('refuses a request or a reply over the payload limit, typed, and the connection goes on', async () => {
    await assert.rejects(client.call('calc', 'add', { a: 'x'.repeat(2 * 1024 * 1024), b: 1 }), { code: 'PAYLOAD_TOO_LARGE' });
    await assert.rejects(client.call('calc', 'huge', { bytes: 2 * 1024 * 1024 }), { code: 'PAYLOAD_TOO_LARGE' });
    assert.equal((await client.call<string>('calc', 'huge', { bytes: 512 * 1024 })).length, 512 * 1024);
    assert.deepEqual(await client.call('calc', 'add', { a: 1, b: 2 }), { sum: 3 });
  });

  it('fails a call whose timeout is already spent without sending it', async () => {
    const before = runs.late;
    await assert.rejects(client.call('calc', 'late', null, { timeoutMs: 0 }), { code: 'TIMEOUT' });
    assert.equal(runs.late, before);
  });
});
