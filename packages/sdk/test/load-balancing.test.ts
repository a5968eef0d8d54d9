import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runService, defineService, connect, type Client, type RunningService } from '@squadron/sdk';
import { startSites, silent, type TestSites } from '@squadron/testkit';

/** An instance of 'spread' that counts its calls and answers after `delayMs`. */
function spreadService(counts: Map<string, number>, delayMs: number) {
  return defineService({
    name: 'spread',
    methods: {
      hit: async (_req: unknown, ctx) => {
        counts.set(ctx.instance, (counts.get(ctx.instance) ?? 0) + 1);
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        return ctx.instance;
      },
    },
  });
}

async function drive(client: Client, calls: number, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < calls) await client.call('spread', 'hit');
  }));
}

describe('load balancing', () => {
  let sites: TestSites;
  const running: RunningService[] = [];
  const clients: Client[] = [];

  before(async () => {
    sites = await startSites(['sto']);
  });

  after(async () => {
    for (const c of clients) await c.close();
    for (const s of running) await s.stop();
    await sites.stop();
  });

  async function instances(delays: number[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const s of running.splice(0)) await s.stop();
    for (const d of delays) {
      const r = await runService(spreadService(counts, d), { site: 'sto', broker: sites.address('sto'), logger: silent });
      counts.set(r.info.id, 0);
      running.push(r);
    }
    return counts;
  }

  async function client(balance?: 'round-robin'): Promise<Client> {
    const c = await connect({ site: 'sto', broker: sites.address('sto'), logger: silent, ...(balance ? { balance } : {}) });
    clients.push(c);
    await c.waitForInstances('spread', running.length);
    return c;
  }

  it('spreads calls evenly over three equal instances (least outstanding, two choices)', async () => {
    const counts = await instances([1, 1, 1]);
    await drive(await client(), 3000, 24);
    for (const [id, n] of counts) assert.ok(n > 800 && n < 1200, `instance ${id} got ${n} of 3000`);
  });

  it('sends fewer calls to a slow instance', async () => {
    const counts = await instances([1, 1, 25]);
    await drive(await client(), 1500, 24);
    const slow = running[2]!.info.id;
    const slowCount = counts.get(slow)!;
    const fastMin = Math.min(...running.slice(0, 2).map((r) => counts.get(r.info.id)!));
    assert.ok(slowCount * 3 < fastMin, `slow instance got ${slowCount}, fast ones at least ${fastMin}`);
  });

  it('takes turns exactly with round-robin', async () => {
    const counts = await instances([0, 0, 0]);
    const c = await client('round-robin');
    for (let i = 0; i < 300; i++) await c.call('spread', 'hit');
    for (const [id, n] of counts) assert.equal(n, 100, `instance ${id} got ${n} of 300`);
  });
});
