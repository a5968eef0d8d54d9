/**
 * A hostile squad at a site's broker, on a running platform: squad 'tools' has a credential for
 * its own service (as `squadron run` gets one) and speaks the wire protocol frame by frame. It
 * tries to answer another squad's calls, to take over a registered instance, to flood the
 * registry, and to write into, read from and inspect the queues of squad 'bank'. Every attempt
 * is refused, only the attacker's connection is closed, and bank's service goes on as before.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameKind, decode, encode, errorFromWire, type InstanceInfo } from '@squadron/protocol';
import { Identity } from '@squadron/identity';
import { connect, type Client } from '@squadron/sdk';
import { ApiError, ControlClient } from '@squadron/client';
import { rawPeer, startTestPlatform, waitFor, type RawPeer, type TestPlatform } from '@squadron/testkit';

const LEDGER = fileURLToPath(new URL('./fixtures/insulation/ledger/', import.meta.url));
const RELAY = fileURLToPath(new URL('./fixtures/access/relay/', import.meta.url));

describe('a hostile squad at the broker', () => {
  let platform: TestPlatform;
  let broker = '';
  let admin: Client;
  /** The admin's raw connection, for the broker's queries (as the API asks them). */
  let adminPeer: RawPeer;
  let tools: ControlClient;
  let bankToken = '';
  let victim: InstanceInfo;
  const attackers: RawPeer[] = [];

  /** A raw connection as an instance of tools' own service `relay`, with a real credential for it. */
  async function asRelay(instance: string): Promise<RawPeer> {
    const key = Identity.newKey();
    const { credential } = await tools.ownInstanceCredential('relay', instance, 'sto', key.publicJwk);
    const peer = await rawPeer(broker, { role: 'instance', site: 'sto', name: 'relay', service: 'relay', instance }, new Identity(credential, key.privateKey));
    attackers.push(peer);
    return peer;
  }

  /** A raw connection as a client of squad tools (the CLI's kind of credential). */
  async function asToolsClient(): Promise<RawPeer> {
    const key = Identity.newKey();
    const { credential } = await tools.clientCredential(key.publicJwk, { site: 'sto', name: 'intruder' });
    const peer = await rawPeer(broker, { role: 'client', site: 'sto', name: 'intruder' }, new Identity(credential, key.privateKey));
    attackers.push(peer);
    return peer;
  }

  const fakeInfo = (over: Partial<InstanceInfo>): InstanceInfo => ({
    id: 'relay-evil', service: 'relay', site: 'sto', address: 'tcp://127.0.0.1:9', host: 'evil', pid: 1, methods: [], topics: [], startedAt: Date.now(), inFlight: 0, ...over,
  } as InstanceInfo);

  let queryId = 1000;
  /** Ask the broker a query as the admin. */
  async function adminQuery<T>(query: Record<string, unknown>): Promise<T> {
    const answer = await adminPeer.request(FrameKind.Query, ++queryId, query);
    if (!answer.ok) throw answer.error;
    return answer.value as T;
  }

  /** What the registry says of ledger now: its instances' ids and addresses. */
  const ledgerInstances = () => admin.instances('ledger').map((i) => `${i.id} ${i.address}`).sort();

  before(async () => {
    platform = await startTestPlatform('broker-insulation', { config: 'sites:\n  - name: sto\n    kind: datacenter\n' });
    const { api } = platform;
    bankToken = (await api.createSquad('bank')).token!;
    const toolsToken = (await api.createSquad('tools')).token!;
    tools = new ControlClient({ url: platform.url, token: toolsToken });
    await api.createService({ name: 'ledger', squad: 'bank' });
    await api.createService({ name: 'relay', squad: 'tools' });
    await api.deploy('ledger', { path: LEDGER, sites: ['sto'], instances: 1 });
    await api.deploy('relay', { path: RELAY, sites: ['sto'], instances: 1 });
    broker = (await api.sites()).sites[0]!.broker!.address;
    const key = Identity.newKey();
    const { credential } = await api.clientCredential(key.publicJwk, { site: 'sto', name: 'insulation-test' });
    admin = await connect({ site: 'sto', broker, identity: new Identity(credential, key.privateKey), name: 'insulation-test' });
    const peerKey = Identity.newKey();
    const peerCredential = (await api.clientCredential(peerKey.publicJwk, { site: 'sto', name: 'insulation-admin' })).credential;
    adminPeer = await rawPeer(broker, { role: 'client', site: 'sto', name: 'insulation-admin' }, new Identity(peerCredential, peerKey.privateKey));
    attackers.push(adminPeer);
    await admin.waitForInstances('ledger', 1, 30_000);
    await admin.waitForInstances('relay', 1, 30_000);
    victim = admin.instances('ledger')[0]!;
    // ledger owns its topic and queue once its running code has said so.
    await waitFor(async () => (await api.policy('ledger')).queues.includes('ledger.jobs'), 'ledger to own ledger.jobs', 30_000);
  });

  after(async () => {
    for (const a of attackers) a.close();
    await admin?.close();
    await platform?.stop();
  });

  it('refuses a registration as another squad\'s service, or as another instance, and closes only that connection', async () => {
    const before = ledgerInstances();
    const attempts: Array<[string, Partial<InstanceInfo>]> = [
      ['another squad\'s service under its own id', { service: 'ledger' }],
      ['another squad\'s service under the victim\'s id', { service: 'ledger', id: victim.id }],
      ['its own service under the victim\'s id', { id: victim.id }],
      ['another site', { site: 'gcp-eu' }],
    ];
    for (const [what, over] of attempts) {
      const peer = await asRelay('relay-evil');
      peer.send(FrameKind.Register, 0, fakeInfo(over));
      const goaway = await peer.closedWith();
      assert.equal(goaway?.[0], 'PERMISSION_DENIED', `${what}: refused with PERMISSION_DENIED (got ${JSON.stringify(goaway)})`);
    }
    assert.deepEqual(ledgerInstances(), before, 'ledger\'s registry entries are untouched');
    // Nor does the platform sign a credential that names another service's instance.
    await assert.rejects(tools.ownInstanceCredential('relay', victim.id, 'sto', Identity.newKey().publicJwk), (err: unknown) => err instanceof ApiError && err.status === 400);
    // Calls to ledger still reach the real instance.
    assert.deepEqual(await admin.call('ledger', 'whoami', null), { service: 'ledger', instance: victim.id });
  });

  it('lets a connection register one instance, the one its credential names, and frees it when the connection closes', async () => {
    const peer = await asRelay('relay-flood');
    peer.send(FrameKind.Register, 0, fakeInfo({ id: 'relay-flood' }));
    await waitFor(() => admin.instances('relay').some((i) => i.id === 'relay-flood'), 'the honest registration to be seen');
    for (let n = 0; n < 5000; n++) peer.send(FrameKind.Register, 0, fakeInfo({ id: `relay-flood-${n}` }));
    const goaway = await peer.closedWith();
    assert.equal(goaway?.[0], 'PERMISSION_DENIED');
    await waitFor(() => !admin.instances('relay').some((i) => i.id.startsWith('relay-flood')), 'everything the closed connection registered to go');
    const stats = await adminQuery<{ instances: InstanceInfo[] }>({ what: 'stats' });
    assert.equal(stats.instances.filter((i) => i.id.startsWith('relay-flood')).length, 0, 'the broker keeps none of them');
  });

  it('never lets a second connection of another service take over a registered instance id', async () => {
    const first = await asRelay('relay-held');
    first.send(FrameKind.Register, 0, fakeInfo({ id: 'relay-held', address: 'tcp://127.0.0.1:11' }));
    await waitFor(() => admin.instances('relay').some((i) => i.id === 'relay-held'), 'the first registration');
    // The same instance on a new connection (a reconnect) may take its id back; the old connection keeps nothing.
    const again = await asRelay('relay-held');
    again.send(FrameKind.Register, 0, fakeInfo({ id: 'relay-held', address: 'tcp://127.0.0.1:12' }));
    await waitFor(() => admin.instances('relay').some((i) => i.id === 'relay-held' && i.address === 'tcp://127.0.0.1:12'), 'the reconnected registration');
    first.close();
    await waitFor(() => first.closed(), 'the old connection to close');
    await again.request(FrameKind.Query, 901, { what: 'stats' }); // the broker has processed the close by now
    assert.ok(admin.instances('relay').some((i) => i.id === 'relay-held'), 'closing the old connection does not remove the new registration');
  });

  it('refuses writes into, and reads from, the queue behind another service\'s durable subscription', async () => {
    const durableQueue = 'ledger@ledger.entries';
    for (const peer of [await asRelay('relay-q'), await asToolsClient()]) {
      const enqueue = await peer.request(FrameKind.Enqueue, 11, [durableQueue, null, null, 0, 'trace-1', encode({ forged: true })]);
      assert.equal(enqueue.ok ? 'ok' : enqueue.error.code, 'PERMISSION_DENIED', 'a forged event into ledger\'s durable queue');
      const consume = await peer.request(FrameKind.Consume, 12, { queue: durableQueue, concurrency: 1, maxDeliveries: 3, visibilityTimeoutMs: 1000 });
      assert.equal(consume.ok ? 'ok' : consume.error.code, 'PERMISSION_DENIED', 'consuming ledger\'s durable queue');
      const subscribe = await peer.request(FrameKind.SubscribeDurable, 13, { topic: 'ledger.entries', group: 'ledger' });
      assert.equal(subscribe.ok ? 'ok' : subscribe.error.code, 'PERMISSION_DENIED', 'a durable subscription in ledger\'s name');
      assert.ok(!peer.closed(), 'a refused request leaves the connection open');
    }
    // ledger's own durable subscription still gets what is published, and nothing forged.
    await admin.call('ledger', 'post', { n: 1 });
    await waitFor(async () => (await admin.call<{ entries: unknown[] }>('ledger', 'received', null)).entries.length === 1, 'ledger to get its own entry');
    assert.deepEqual((await admin.call<{ entries: unknown[] }>('ledger', 'received', null)).entries, [{ n: 1 }]);
  });

  it('shows a queue\'s dead letters and replays them for its own squad and the admin only', async () => {
    await admin.call('ledger', 'job', { fail: true });
    await waitFor(async () => (await adminQuery<unknown[]>({ what: 'dlq', queue: 'ledger.jobs' })).length === 1, 'the failed job to be dead-lettered');
    const intruder = await asToolsClient();
    for (const what of ['dlq', 'replay']) {
      const answer = await intruder.request(FrameKind.Query, 20, { what, queue: 'ledger.jobs' });
      assert.equal(answer.ok ? 'ok' : answer.error.code, 'PERMISSION_DENIED', `${what} of another squad's queue`);
      const durable = await intruder.request(FrameKind.Query, 21, { what, queue: 'ledger@ledger.entries' });
      assert.equal(durable.ok ? 'ok' : durable.error.code, 'PERMISSION_DENIED', `${what} of another service's durable queue`);
    }
    assert.equal((await adminQuery<unknown[]>({ what: 'dlq', queue: 'ledger.jobs' })).length, 1, 'nothing was replayed');
  });

  it('never lets another squad join a subscription group that is not its own: a service\'s, a subscriber\'s private one, or another squad\'s', async () => {
    const bankApi = new ControlClient({ url: platform.url, token: bankToken });
    const key = Identity.newKey();
    const { credential } = await bankApi.clientCredential(key.publicJwk, { site: 'sto', name: 'bank-reader' });
    const bank = await rawPeer(broker, { role: 'client', site: 'sto', name: 'bank-reader' }, new Identity(credential, key.privateKey));
    attackers.push(bank);
    bank.send(FrameKind.Subscribe, 1, { topic: 'news', group: 'bank-readers' });
    bank.send(FrameKind.Subscribe, 2, { topic: 'news', group: '_sub.bank-reader.1' });
    await bank.request(FrameKind.Query, 3, { what: 'stats' }); // both subscriptions are in place
    const intruder = await asToolsClient();
    const groups = ['ledger', 'bank-readers', '_sub.bank-reader.1'];
    for (const [n, group] of groups.entries()) {
      intruder.send(FrameKind.Subscribe, 100 + n, { topic: 'news', group });
    }
    await waitFor(() => intruder.frames.filter((f) => f.kind === FrameKind.Refused).length === groups.length, 'every join to be refused');
    for (const f of intruder.frames.filter((x) => x.kind === FrameKind.Refused)) {
      const [, wire] = decode(f.body) as [string, unknown];
      assert.equal(errorFromWire(wire).code, 'PERMISSION_DENIED');
    }
    // Everything published reaches ledger, none of it the intruder.
    for (let n = 0; n < 10; n++) admin.publish('news', { n });
    await waitFor(async () => (await admin.call<{ news: unknown[] }>('ledger', 'received', null)).news.length === 10, 'ledger to get all ten');
    assert.equal(intruder.frames.filter((f) => f.kind === FrameKind.Message).length, 0);
    // A group of its own is the intruder's to use.
    intruder.send(FrameKind.Subscribe, 200, { topic: 'news', group: 'tools-readers' });
    await intruder.request(FrameKind.Query, 201, { what: 'stats' });
    assert.equal(intruder.frames.filter((f) => f.kind === FrameKind.Refused && f.id === 200).length, 0);
  });

  it('closes a connection that watches the registry without bound, and only that one', async () => {
    const peer = await asToolsClient();
    for (let n = 1; n <= 100; n++) peer.send(FrameKind.Watch, n);
    const goaway = await peer.closedWith();
    assert.equal(goaway?.[0], 'QUOTA_EXCEEDED');
    assert.deepEqual(await admin.call('ledger', 'whoami', null), { service: 'ledger', instance: victim.id });
  });
});
