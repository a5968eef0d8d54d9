/**
 * No squad can fill the log that every squad at a site shares: each queue holds at most its
 * limit, a squad's queues together at most the squad's total, and a full disk refuses new
 * enqueues with a typed error while deliveries and acks go on, until space is back. A real
 * broker with a data directory, and clients over real sockets.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '@squadron/broker';
import { QuotaExceededError, SquadronError, FrameKind } from '@squadron/protocol';
import { Policies, DEFAULT_RATE_LIMIT, type PolicySet, type ServicePolicy } from '@squadron/policy';
import { connect, type Client } from '@squadron/sdk';
import { rawPeer, silent, waitFor } from '@squadron/testkit';

const service = (squad: string, queues: string[], topics: string[] = []): ServicePolicy => ({ squad, access: 'open', grants: [], denies: [], topics, queues });

/** bank's queues: 5 messages each (jobs.big: 3 KB), 8 in all; tools' queue: the default. */
const SET: PolicySet = {
  version: 'quota-test-1',
  defaultRate: DEFAULT_RATE_LIMIT,
  services: {
    ledger: service('bank', ['bank.a', 'bank.b', 'bank.big'], ['bank.events']),
    audit: service('bank', []),
    relay: service('tools', ['tools.q']),
  },
  queueQuotas: {
    queueDefault: { maxMessages: 5, maxBytes: 1_000_000 },
    queues: { 'bank.big': { maxMessages: 100, maxBytes: 3_000 } },
    squadDefault: { maxMessages: 1_000, maxBytes: 10_000_000 },
    squads: { bank: { maxMessages: 8, maxBytes: 10_000_000 } },
    unclaimed: { maxMessages: 3, maxBytes: 1_000_000 },
  },
};

async function refusal(p: Promise<unknown>): Promise<SquadronError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SquadronError, `a typed error, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a refusal');
}

describe('queue quotas', () => {
  const dir = mkdtempSync(join(tmpdir(), 'squadron-quotas-'));
  let broker: Broker;
  let client: Client;

  before(async () => {
    broker = new Broker({ site: 'sto', dataDir: dir, logger: silent });
    await broker.start();
    broker.setPolicies(new Policies(SET));
    client = await connect({ site: 'sto', broker: broker.address, logger: silent });
  });

  after(async () => {
    await client.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a message past a queue\'s limit, naming the limit, and stores nothing of it', async () => {
    for (let n = 0; n < 5; n++) await client.enqueue('bank.a', { n });
    const err = await refusal(client.enqueue('bank.a', { n: 5 }));
    assert.ok(err instanceof QuotaExceededError);
    assert.deepEqual(err.details, { limit: 'queue-messages', max: 5, used: 5 });
    assert.match(err.message, /bank\.a.*5 messages/);
    const big = await refusal(client.enqueue('bank.big', 'x'.repeat(4_000)));
    assert.equal(big.details?.limit, 'queue-bytes');
    const row = (await queueRows()).find((q) => q.queue === 'bank.a')!;
    assert.deepEqual([row.stored, row.limit], [5, { maxMessages: 5, maxBytes: 1_000_000 }]);
    assert.equal((await queueRows()).find((q) => q.queue === 'bank.big'), undefined, 'the refused message made no queue');
  });

  it('holds all of a squad\'s queues to its total, and leaves other squads\' queues alone', async () => {
    for (let n = 0; n < 3; n++) await client.enqueue('bank.b', { n }); // bank: 5 + 3 = 8, its total
    const err = await refusal(client.enqueue('bank.b', { n: 3 }));
    assert.deepEqual(err.details, { limit: 'squad-messages', max: 8, used: 8 });
    assert.match(err.message, /squad 'bank'/);
    for (let n = 0; n < 5; n++) await client.enqueue('tools.q', { n });
    // Queues nobody claimed share one total of their own.
    for (let n = 0; n < 3; n++) await client.enqueue(`free.${n}`, { n });
    assert.equal((await refusal(client.enqueue('free.3', {}))).details?.limit, 'squad-messages');
  });

  it('takes messages again once consumers have made room', async () => {
    const got: unknown[] = [];
    const consumer = client.consume('bank.a', (msg) => { got.push(msg); });
    await waitFor(() => got.length === 5, 'bank.a to be drained');
    await consumer.stop();
    await waitFor(async () => (await client.enqueue('bank.b', { n: 'room' }).then(() => true, () => false)), 'bank to have room again', 5000, 50);
  });

  it('refuses a durable publish whole when one subscription\'s queue is full', async () => {
    const raw = await rawPeer(broker.address, { role: 'client', site: 'sto', name: 'subscriber' });
    for (const group of ['audit', 'ledger']) {
      const ok = await raw.request(FrameKind.SubscribeDurable, group === 'audit' ? 1 : 2, { topic: 'bank.events', group });
      assert.ok(ok.ok);
    }
    // audit@bank.events (bank's, default 5) fills first; bank's total has room for it.
    const stored: number[] = [];
    let refusal: unknown = null;
    for (let n = 0; n < 10 && refusal === null; n++) {
      const r = await client.publish('bank.events', { n }, { durable: true }).then(() => true, (e: unknown) => e);
      if (r === true) stored.push(n);
      else refusal = r;
    }
    assert.ok(refusal instanceof QuotaExceededError, `a durable publish past a full subscription queue is refused (got ${String(refusal)})`);
    assert.ok(stored.length > 0 && stored.length < 10);
    const rows = await queueRows();
    const audit = rows.find((q) => q.queue === 'audit@bank.events')?.stored ?? 0;
    const ledger = rows.find((q) => q.queue === 'ledger@bank.events')?.stored ?? 0;
    assert.equal(audit, ledger, 'both subscriptions hold the same messages: none was stored for one only');
    assert.equal(audit, stored.length);
    raw.close();
  });

  async function queueRows(): Promise<Array<{ queue: string; stored: number; bytes: number; limit: unknown }>> {
    const raw = await rawPeer(broker.address, { role: 'client', site: 'sto', name: 'stats' });
    try {
      const answer = await raw.request(FrameKind.Query, 1, { what: 'queues' });
      assert.ok(answer.ok);
      return (answer.value as { queues: Array<{ queue: string; stored: number; bytes: number; limit: unknown }> }).queues;
    } finally {
      raw.close();
    }
  }
});

/**
 * A full disk, for real: the broker's data directory on a small tmpfs that a filler file takes
 * almost all of. Needs root (to mount it), as the platform's CI runs.
 */
describe('a full disk at the broker', () => {
  const mountpoint = mkdtempSync(join(tmpdir(), 'squadron-fulldisk-'));
  let broker: Broker;
  let client: Client;

  before(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountpoint]);
    broker = new Broker({ site: 'sto', dataDir: mountpoint, logger: silent });
    await broker.start();
    client = await connect({ site: 'sto', broker: broker.address, logger: silent });
  });

  after(async () => {
    await client?.close();
    await broker?.stop();
    execFileSync('umount', [mountpoint]);
    rmSync(mountpoint, { recursive: true, force: true });
  });

  it('refuses enqueues with a typed error while deliveries and acks go on, and takes them again once space is back', async () => {
    for (let n = 0; n < 20; n++) await client.enqueue('before', { n, pad: 'p'.repeat(1000) });
    // Take nearly all that is left: the log gets a few more records, then the disk is full.
    const filler = join(mountpoint, 'filler');
    fillDisk(filler);
    let err: unknown = null;
    for (let n = 0; n < 200 && err === null; n++) {
      await client.enqueue('during', { n, pad: 'p'.repeat(1000) }).catch((e: unknown) => (err = e));
    }
    assert.ok(err instanceof SquadronError, `a typed refusal, got ${String(err)}`);
    assert.equal(err.code, 'UNAVAILABLE');
    assert.match(err.message, /disk is full/);
    // Every message stored before is still delivered, and acknowledged, on the full disk.
    const got: number[] = [];
    const consumer = client.consume<{ n: number }>('before', (msg) => { got.push(msg.n); });
    await waitFor(() => got.length === 20, 'the stored messages to be delivered on a full disk');
    await consumer.stop();
    assert.deepEqual(got, Array.from({ length: 20 }, (_, n) => n));
    // Space back: enqueues are taken again, without a restart.
    unlinkSync(filler);
    await waitFor(() => client.enqueue('after', { ok: true }).then(() => true, () => false), 'an enqueue to be taken once space is back', 5000, 50);
  });
});

/** Write zeros to `path` until the filesystem has no room left (the last write fails: that is the point). */
function fillDisk(path: string): void {
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeFileSync(path, chunk, { flag: 'a' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
}
