import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreatedSquadBody, DeadLetterBody, ErrorBody, InstanceRecordBody, QueueRowBody, RegisteredAgentBody } from '@squadron/client';
import { connect, type Client } from '@squadron/sdk';
import { startSites, silent, waitFor, WORKER_DIR, type TestSites } from '@squadron/testkit';
import { STORES, startControl, type TestControl } from './harness.ts';

const SECRET_ERROR = 'card 4111-1111 declined for ada@example.com';

/**
 * A queue's dead letters (their bodies and last errors) and their replay answer only the squad
 * that owns the queue (the owner of its claim; for SERVICE@TOPIC, SERVICE's squad) and the
 * admin. Another squad gets FORBIDDEN and nothing is replayed; a queue nobody owns is the
 * admin's. The listing of queues answers everyone but carries counts only. Over real HTTP, with
 * a real broker holding a real dead letter, on both stores.
 */
for (const store of STORES) {
  describe(`queue routes answer the queue's owner only (${store} state store)`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'squadron-queue-owners-'));
    let c: TestControl;
    let sites: TestSites;
    let client: Client;
    let url = '';
    const squads: Record<string, CreatedSquadBody> = {};
    const call = async (method: string, path: string, token: string) => {
      const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      return { status: res.status, text, body: JSON.parse(text) as unknown };
    };
    const deadLetters = async (queue: string, token: string) => call('GET', `/v1/queues/${encodeURIComponent(queue)}/dead-letters`, token);
    const lettersOf = async (queue: string) => ((await deadLetters(queue, c.adminToken)).body as { messages: DeadLetterBody[] }).messages;

    /** A message that fails its one delivery and is dead-lettered with the error text. */
    const poison = async (queue: string, body: unknown) => {
      const consumer = client.consume(queue, async () => {
        throw new Error(SECRET_ERROR);
      }, { maxDeliveries: 1 });
      await client.enqueue(queue, body);
      await waitFor(async () => (await lettersOf(queue)).length === 1, `the dead letter of ${queue}`, 10_000, 20);
      consumer.stop();
    };

    before(async () => {
      sites = await startSites(['sto'], { dataDir });
      c = await startControl(store, `queue_owners_${store}`, undefined, 60_000);
      c.sites.setBroker('sto', sites.address('sto'));
      url = await c.app.listen({ host: '127.0.0.1', port: 0 });
      const post = (path: string, token: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      for (const name of ['shop', 'rogue']) squads[name] = (await (await post('/v1/squads', c.adminToken, { name })).json()) as CreatedSquadBody;
      await post('/v1/services', squads.shop!.token, { name: 'billing', squad: 'shop' });
      await post('/v1/services', squads.rogue!.token, { name: 'snoop', squad: 'rogue' });
      // billing claims the queue 'payments' the way it does in production: its instance reports code that consumes it.
      const agent = (await (await post('/v1/agents', c.adminToken, { site: 'gcp-eu', host: 'agent-1' })).json()) as RegisteredAgentBody;
      const deployed = await post('/v1/services/billing/releases', squads.shop!.token, { path: WORKER_DIR, sites: ['gcp-eu'], instances: 1 });
      assert.equal(deployed.status, 201, await deployed.text());
      const { instances } = (await call('GET', '/v1/services/billing/instances', squads.shop!.token)).body as { instances: InstanceRecordBody[] };
      await post(`/v1/agents/${agent.id}/report`, c.adminToken, { instances: [{
        id: instances[0]!.id, state: 'ready', pid: 1, rssBytes: 1, cpuPercent: 0, restarts: 0, crashLoop: false, lastExit: null, readyAt: Date.now(),
        interface: { methods: [], topics: [], queues: ['payments'], publishes: [] },
      }] });
      client = await connect({ site: 'sto', broker: sites.address('sto'), logger: silent });
      await poison('payments', { card: '4111-1111' });
      await poison('loose', { anything: true });
    });
    after(async () => {
      await client?.close();
      await c?.close();
      await sites?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('another squad gets 403 on a queue\'s dead letters and its replay, sees none of them, and nothing is replayed', async () => {
      const read = await deadLetters('payments', squads.rogue!.token);
      assert.equal(read.status, 403, read.text);
      assert.equal((read.body as ErrorBody).error.code, 'FORBIDDEN');
      assert.match((read.body as ErrorBody).error.message, /queue 'payments' belongs to service 'billing' of squad 'shop'; only that squad \(or the admin\) may read its dead letters \(you are squad 'rogue'\)/);
      assert.doesNotMatch(read.text, /4111|declined/);
      const replay = await call('POST', '/v1/queues/payments/replay', squads.rogue!.token);
      assert.equal(replay.status, 403, replay.text);
      assert.equal((replay.body as ErrorBody).error.code, 'FORBIDDEN');
      assert.equal((await lettersOf('payments')).length, 1, 'the dead letter is still there: nothing was replayed');
    });

    it('the owner squad and the admin read them', async () => {
      const own = await deadLetters('payments', squads.shop!.token);
      assert.equal(own.status, 200, own.text);
      assert.match((own.body as { messages: DeadLetterBody[] }).messages[0]!.error ?? '', /declined/);
      assert.equal((await deadLetters('payments', c.adminToken)).status, 200);
    });

    it('a queue nobody owns is the admin\'s alone', async () => {
      for (const squad of ['shop', 'rogue']) {
        const res = await deadLetters('loose', squads[squad]!.token);
        assert.equal(res.status, 403, res.text);
        assert.match((res.body as ErrorBody).error.message, /queue 'loose' has no owner, so only the platform admin may read its dead letters/);
        assert.equal((await call('POST', '/v1/queues/loose/replay', squads[squad]!.token)).status, 403);
      }
      assert.equal((await lettersOf('loose')).length, 1);
    });

    it('a durable subscription\'s queue SERVICE@TOPIC is the squad of SERVICE\'s', async () => {
      const theirs = await deadLetters('billing@order.placed', squads.rogue!.token);
      assert.equal(theirs.status, 403, theirs.text);
      assert.match((theirs.body as ErrorBody).error.message, /belongs to service 'billing' of squad 'shop'/);
      assert.equal((await deadLetters('billing@order.placed', squads.shop!.token)).status, 200);
      assert.equal((await deadLetters('ghost@order.placed', squads.rogue!.token)).status, 403, 'a service that does not exist owns its queue all the same');
    });

    it('the listing answers every squad with names and counts, never bodies or error text', async () => {
      const listed = await call('GET', '/v1/queues', squads.rogue!.token);
      assert.equal(listed.status, 200, listed.text);
      const row = (listed.body as { queues: QueueRowBody[] }).queues.find((q) => q.queue === 'payments')!;
      assert.equal(row.dead, 1);
      // Counts, and limits (null, or an object of numbers): nothing that can hold text.
      const numbers = (v: unknown): boolean => typeof v === 'number' || v === null || (typeof v === 'object' && Object.values(v as object).every((x) => typeof x === 'number' || x === null));
      for (const [field, value] of Object.entries(row)) if (field !== 'site' && field !== 'queue') assert.ok(numbers(value), `${field}: ${JSON.stringify(value)}`);
      assert.doesNotMatch(listed.text, /4111|declined/);
    });

    it('the owner replays its dead letters', async () => {
      const replay = await call('POST', '/v1/queues/payments/replay', squads.shop!.token);
      assert.equal(replay.status, 200, replay.text);
      assert.deepEqual(replay.body, { queue: 'payments', revived: 1 });
    });
  });
}
