/**
 * Queue quotas on a running platform: a squad floods its own queues and the queues nobody
 * claimed until the broker refuses it with QUOTA_EXCEEDED, while another squad's queue goes on
 * taking messages; the owner raises its queue's limit within its squad's total, the admin raises
 * the total, another squad can change neither, and `squadron queues` shows use against limits.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ApiError, ControlClient } from '@squadron/client';
import { Identity } from '@squadron/identity';
import { FrameKind, QuotaExceededError } from '@squadron/protocol';
import { connect, type Client } from '@squadron/sdk';
import { rawPeer, squadron, startTestPlatform, waitFor, type TestPlatform } from '@squadron/testkit';

const HOARDER = fileURLToPath(new URL('./fixtures/insulation/hoarder/', import.meta.url));
const LEDGER = fileURLToPath(new URL('./fixtures/insulation/ledger/', import.meta.url));

const CONFIG = `sites:
  - name: sto
    kind: datacenter
queues:
  limit: { messages: 20, bytes: 1MB }
  squadTotal: { messages: 30, bytes: 10MB }
  unclaimed: { messages: 10, bytes: 1MB }
`;

describe('queue quotas, end to end', () => {
  let platform: TestPlatform;
  let tools: Client;
  let bank: Client;
  let toolsToken = '';
  let bankToken = '';

  async function clientOf(token: string, name: string): Promise<Client> {
    const api = new ControlClient({ url: platform.url, token });
    const key = Identity.newKey();
    const { credential } = await api.clientCredential(key.publicJwk, { site: 'sto', name });
    const broker = (await api.sites()).sites[0]!.broker!.address;
    return connect({ site: 'sto', broker, identity: new Identity(credential, key.privateKey), name });
  }

  /** Enqueue until refused (at most `max`): how many were taken, and the refusal. */
  async function fill(client: Client, queue: string, max: number): Promise<{ taken: number; refusal: unknown }> {
    for (let n = 0; n < max; n++) {
      try {
        await client.enqueue(queue, { n });
      } catch (err) {
        return { taken: n, refusal: err };
      }
    }
    return { taken: max, refusal: null };
  }

  const asSquad = (token: string) => ({ ...platform.env, SQUADRON_TOKEN: token });

  before(async () => {
    platform = await startTestPlatform('queue-quotas', { config: CONFIG });
    const { api } = platform;
    toolsToken = (await api.createSquad('tools')).token!;
    bankToken = (await api.createSquad('bank')).token!;
    await api.createService({ name: 'hoarder', squad: 'tools' });
    await api.createService({ name: 'ledger', squad: 'bank' });
    await api.deploy('hoarder', { path: HOARDER, sites: ['sto'], instances: 1 });
    await api.deploy('ledger', { path: LEDGER, sites: ['sto'], instances: 1 });
    await waitFor(async () => (await api.policy('hoarder')).queues.includes('tools.backlog'), 'hoarder to own tools.backlog', 30_000);
    await waitFor(async () => (await api.policy('ledger')).queues.includes('ledger.jobs'), 'ledger to own ledger.jobs', 30_000);
    tools = await clientOf(toolsToken, 'flooder');
    bank = await clientOf(bankToken, 'bank-client');
    // The broker knows who owns each queue once it refuses to let the other squad consume it (its
    // policies reach it within a second, one claim perhaps before the other). Asked over raw
    // connections, since the SDK's own mirror of the policies would refuse first; a consumer let
    // in too early takes nothing (both queues are empty) and is stopped at once.
    const broker = (await api.sites()).sites[0]!.broker!.address;
    for (const [token, queue] of [[toolsToken, 'ledger.jobs'], [bankToken, 'tools.backlog']] as const) {
      const key = Identity.newKey();
      const { credential } = await new ControlClient({ url: platform.url, token }).clientCredential(key.publicJwk, { site: 'sto', name: 'probe' });
      const probe = await rawPeer(broker, { role: 'client', site: 'sto', name: 'probe' }, new Identity(credential, key.privateKey));
      let id = 0;
      await waitFor(async () => {
        const answer = await probe.request(FrameKind.Consume, ++id, { queue, concurrency: 1, maxDeliveries: 1, visibilityTimeoutMs: 1000 });
        if (answer.ok) probe.send(FrameKind.StopConsume, id);
        return !answer.ok && answer.error.code === 'PERMISSION_DENIED';
      }, `the broker to know who owns ${queue}`, 10_000, 50);
      probe.close();
    }
  });

  after(async () => {
    await tools?.close();
    await bank?.close();
    await platform?.stop();
  });

  it('refuses a squad past its queue\'s limit and past the queues nobody claimed, and leaves other squads\' queues alone', async () => {
    const own = await fill(tools, 'tools.backlog', 100);
    assert.equal(own.taken, 20, `the default limit of a queue (refused: ${String(own.refusal)} ${JSON.stringify((own.refusal as { details?: unknown }).details)})`);
    assert.ok(own.refusal instanceof QuotaExceededError, String(own.refusal));
    assert.deepEqual(own.refusal.details, { limit: 'queue-messages', max: 20, used: 20 });
    const spam = await fill(tools, 'spam', 100);
    assert.equal(spam.taken, 10, 'the shared total of the queues nobody claimed');
    assert.ok(spam.refusal instanceof QuotaExceededError);
    // bank's own queue is untouched by tools' flood: it still takes messages.
    for (let n = 0; n < 5; n++) await bank.enqueue('ledger.jobs', { n });
  });

  it('lets the owner raise its queue\'s limit within its squad\'s total, in force within a second', async () => {
    const out = await squadron(['queues', 'limit', 'tools.backlog', '--max-messages', '25'], asSquad(toolsToken));
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /tools\.backlog: at most 25 messages/);
    const t0 = performance.now();
    await waitFor(() => tools.enqueue('tools.backlog', { more: true }).then(() => true, () => false), 'the raised limit to take effect', 5000, 20);
    assert.ok(performance.now() - t0 < 1500, `in force within a second or so (${Math.round(performance.now() - t0)} ms)`);
    assert.equal((await fill(tools, 'tools.backlog', 100)).taken, 4, 'up to 25 in all');
    // Over the squad's total of 30: refused, with the command the admin runs.
    const over = await squadron(['queues', 'limit', 'tools.backlog', '--max-messages', '40'], asSquad(toolsToken));
    assert.equal(over.code, 1);
    assert.match(over.stderr, /QUOTA_EXCEEDED: .*over the total of squad 'tools'.*squadron queues quota tools/);
  });

  it('lets only the admin change a squad\'s total, and only the owner squad its queue\'s limit', async () => {
    const bankApi = new ControlClient({ url: platform.url, token: bankToken });
    const toolsApi = new ControlClient({ url: platform.url, token: toolsToken });
    const before = await platform.api.queueQuotas();
    for (const attempt of [
      () => bankApi.setQueueLimit('tools.backlog', { maxMessages: 1, maxBytes: 1 }),
      () => bankApi.clearQueueLimit('tools.backlog'),
      () => toolsApi.setQueueLimit('ledger.jobs', { maxMessages: 1, maxBytes: 1 }),
      () => toolsApi.setQueueLimit('ledger@ledger.entries', { maxMessages: 1, maxBytes: 1 }),
      () => toolsApi.setSquadQueueTotal('tools', { maxMessages: 1_000_000, maxBytes: 1e9 }),
      () => toolsApi.setQueueLimit('spam', { maxMessages: 1_000, maxBytes: 1e6 }),
    ]) {
      await assert.rejects(attempt(), (err: unknown) => err instanceof ApiError && err.code === 'FORBIDDEN' && err.status === 403);
    }
    assert.deepEqual(await platform.api.queueQuotas(), before, 'nothing changed');
    const out = await squadron(['queues', 'quota', 'tools', '--max-messages', '100', '--max-bytes', '10MB'], platform.env);
    assert.equal(out.code, 0, out.stderr);
    assert.equal((await squadron(['queues', 'limit', 'tools.backlog', '--max-messages', '40'], asSquad(toolsToken))).code, 0);
    const audit = (await platform.api.audit({ limit: 5 })).entries.map((e) => e.action);
    assert.ok(audit.includes('squad.queue-total') && audit.includes('queue.limit'), `audited: ${audit.join(', ')}`);
  });

  it('shows what each queue holds against its limit, in a table and as JSON', async () => {
    await waitFor(async () => {
      const { queues } = await platform.api.queues();
      return queues.find((q) => q.queue === 'tools.backlog')?.limit?.maxMessages === 40;
    }, 'the broker to hold the new limit', 5000, 50);
    const json = JSON.parse((await squadron(['queues', '--json'], platform.env)).stdout) as { queues: Array<{ queue: string; stored: number; limit: { maxMessages: number } }> };
    const backlog = json.queues.find((q) => q.queue === 'tools.backlog')!;
    assert.deepEqual([backlog.stored, backlog.limit.maxMessages], [25, 40]);
    const table = (await squadron(['queues'], platform.env)).stdout;
    assert.match(table, /tools\.backlog\s+.*25 \/ 40 \(62%\)/);
    const quotas = (await squadron(['queues', 'quotas'], platform.env)).stdout;
    assert.match(quotas, /squad\s+tools\s+100\s+10 MiB/);
  });
});
