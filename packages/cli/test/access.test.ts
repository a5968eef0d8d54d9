import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError, type ControlClient, type ServicePolicyBody, type StatusBody } from '@squadron/client';
import { Identity } from '@squadron/identity';
import { connect, type Client } from '@squadron/sdk';
import { squadron, startTestPlatform, waitFor, type TestPlatform } from '@squadron/testkit';

const FIXTURES = fileURLToPath(new URL('./fixtures/access/', import.meta.url));
type Outcomes = Record<string, number>;

/**
 * Access policies and rate limits on a running platform: a service of squad 'bank' (vault)
 * and one of squad 'tools' (relay) that calls and subscribes as itself. Every policy change
 * goes through the API or the CLI and must take effect within a second, without a restart.
 */
describe('access policies and rate limits, end to end', () => {
  let platform: TestPlatform;
  let env: Record<string, string>;
  let api: ControlClient;
  let client: Client;
  let bankToken = '';
  let toolsToken = '';

  /** Calls of vault's methods that relay saw accepted, over the whole run. */
  const accepted: Record<string, number> = { read: 0, write: 0 };
  /** relay calls vault's `method` `times` times at once, as itself; the outcomes by code. */
  const relayCalls = async (method: string, times = 1) => {
    const outcomes = await client.call<Outcomes>('relay', 'call', { service: 'vault', method, times }, { timeoutMs: 5000 });
    accepted[method] = (accepted[method] ?? 0) + (outcomes.ok ?? 0);
    return outcomes;
  };
  const runs = () => client.call<{ read: number; write: number }>('vault', 'runs');
  /** How long after `change` returned relay's call to `method` first comes out as `code`. */
  const takesEffect = async (change: () => Promise<unknown>, method: string, code: string): Promise<number> => {
    await change();
    const t0 = performance.now();
    await waitFor(async () => (await relayCalls(method))[code] === 1, `relay's call of vault.${method} to come out ${code}`, 5000, 20);
    return performance.now() - t0;
  };

  before(async () => {
    platform = await startTestPlatform('access', { config: 'sites:\n  - name: sto\n    kind: datacenter\n' });
    ({ env, api } = platform);
    bankToken = (await api.createSquad('bank')).token!;
    toolsToken = (await api.createSquad('tools')).token!;
    await api.createService({ name: 'vault', squad: 'bank' });
    await api.createService({ name: 'relay', squad: 'tools' });
    for (const name of ['vault', 'relay']) await api.deploy(name, { path: join(FIXTURES, name), sites: ['sto'], instances: 1 });
    const key = Identity.newKey();
    const { credential } = await api.clientCredential(key.publicJwk, { site: 'sto', name: 'access-test' });
    const { sites } = await api.sites();
    client = await connect({ site: 'sto', broker: sites[0]!.broker!.address, identity: new Identity(credential, key.privateKey), name: 'access-test' });
    await client.waitForInstances('vault', 1, 30_000);
    await client.waitForInstances('relay', 1, 30_000);
    // The topic belongs to vault once its running code has said it publishes it.
    await waitFor(async () => (await api.policy('vault')).topics.includes('vault.events'), 'vault to own vault.events', 30_000);
  });

  after(async () => {
    await client?.close();
    await platform?.stop();
  });

  it('lets any service call an open one at the default threshold, and holds a noisy caller to it', async () => {
    assert.deepEqual(await relayCalls('read'), { ok: 1 });
    const t0 = performance.now();
    const burst = await relayCalls('read', 400);
    const seconds = (performance.now() - t0) / 1000;
    assert.deepEqual(Object.keys(burst).sort(), ['RATE_LIMITED', 'ok'], JSON.stringify(burst));
    // The default threshold: 50/s, burst 100. Over any window, at most burst + rate × T + 1.
    assert.ok(burst.ok! <= 100 + 50 * seconds + 1, `accepted ${burst.ok} of 400 in ${seconds.toFixed(2)} s`);
    assert.ok(burst.ok! >= 90, `the caller still got about its burst (${burst.ok})`);
    // Counted per pair, and shown by `squadron status vault`.
    await waitFor(async () => {
      const r = await squadron(['status', 'vault'], env);
      return /service:relay\s+vault\s+(\d+)/.exec(r.stdout)?.[1] === String(burst.RATE_LIMITED) ? r : null;
    }, 'status to show the rejections of the pair relay → vault', 10_000, 200);
  });

  it('restricts within a second, lets a grant in at its own rate, lets a deny win, and revokes', async () => {
    // Past the default burst of the test before: let relay's bucket fill again.
    await waitFor(async () => (await relayCalls('read')).ok === 1, 'relay to be under its limit again', 5000, 100);
    const restricted = await takesEffect(() => api.setAccess('vault', { access: 'restricted' }), 'read', 'PERMISSION_DENIED');
    assert.ok(restricted < 1000, `restricted took effect after ${restricted.toFixed(0)} ms`);
    const before = await runs();
    const acceptedBefore = { ...accepted };
    assert.deepEqual(await relayCalls('write', 5), { PERMISSION_DENIED: 5 });

    const granted = await takesEffect(() => api.grant('relay', 'vault', { methods: ['read'], ratePerSecond: 20, burst: 5 }), 'read', 'ok');
    assert.ok(granted < 1000, `the grant took effect after ${granted.toFixed(0)} ms`);
    assert.deepEqual(await relayCalls('write'), { PERMISSION_DENIED: 1 }, 'a grant of read only does not open write');
    const t0 = performance.now();
    const burst = await relayCalls('read', 40);
    const seconds = (performance.now() - t0) / 1000;
    assert.ok((burst.ok ?? 0) <= 5 + 20 * seconds + 1 && burst.RATE_LIMITED! > 0, `the grant's limit holds: ${JSON.stringify(burst)} in ${seconds.toFixed(2)} s`);

    const denied = await takesEffect(() => api.deny('relay', 'vault', { methods: ['read'] }), 'read', 'PERMISSION_DENIED');
    assert.ok(denied < 1000, `the deny took effect after ${denied.toFixed(0)} ms (over the grant)`);
    await api.revoke('relay', 'vault');
    const policy = await api.policy('vault');
    assert.deepEqual([policy.grants, policy.denies], [[], []], 'revoke removed the grant and the deny');
    assert.deepEqual(await relayCalls('read', 3), { PERMISSION_DENIED: 3 }, 'restricted, with no grant');
    // Every refused call was refused before a handler ran: only the granted reads reached vault.
    const after = await runs();
    assert.equal(after.write, before.write, 'write never ran');
    assert.equal(after.read - before.read, accepted.read! - acceptedBefore.read!, 'read ran once per accepted call and no more');
    await api.setAccess('vault', { access: 'open' });
  });

  it('keeps vault\'s topic to its squad until a grant: the subscription waits, then is served without a restart', async () => {
    const received = () => client.call<number>('relay', 'received');
    await client.call('vault', 'announce', { n: 1 });
    // The broker refused relay's subscription and says so in status.
    await waitFor(async () => {
      const s = JSON.parse((await squadron(['status', '--json'], env)).stdout) as StatusBody;
      return s.sites[0]!.brokerStatus.refusals?.some((r) => r.caller === 'service:relay' && r.permission === 'subscribe' && r.name === 'vault.events');
    }, 'the broker to show the refused subscription', 10_000, 200);
    assert.equal(await received(), 0);
    assert.equal(await client.call('relay', 'publish', { topic: 'vault.events' }), 'PERMISSION_DENIED', 'only vault\'s squad publishes to its topic');

    const grant = await squadron(['grant', 'relay', 'vault', '--subscribe', 'vault.events', '--json'], { ...env, SQUADRON_TOKEN: bankToken });
    assert.equal(grant.code, 0, grant.stderr);
    assert.deepEqual((JSON.parse(grant.stdout) as ServicePolicyBody).grants, [{ caller: 'relay', methods: [], rate: null, publish: [], subscribe: ['vault.events'], consume: [] }]);
    await waitFor(async () => {
      await client.call('vault', 'announce', { n: 2 });
      return (await received()) > 0;
    }, 'relay to receive vault.events once granted', 5000, 100);
    assert.deepEqual(await relayCalls('read'), { ok: 1 }, 'a grant of a topic alone does not limit calls of an open service');
  });

  it('lets only the owner squad change a policy, and refuses bad input whole', async () => {
    const asTools = { ...env, SQUADRON_TOKEN: toolsToken };
    const refused = await squadron(['access', 'vault', 'restricted'], asTools);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /FORBIDDEN: service 'vault' belongs to squad 'bank'/);
    // The CLI holds a squad to the same policies, and says so at once.
    const publish = await squadron(['publish', 'vault.events', '{}'], asTools);
    assert.equal(publish.code, 1);
    assert.match(publish.stderr, /^PERMISSION_DENIED: topic 'vault.events' belongs to vault \(squad 'bank'\).*squadron grant squad:tools vault --publish vault.events/m);
    const rate = await squadron(['grant', 'relay', 'vault', '--rate', 'lots'], { ...env, SQUADRON_TOKEN: bankToken });
    assert.equal(rate.code, 2);
    assert.match(rate.stderr, /--rate: rate 'lots' is not a rate: write it as 500\/s, 30\/m or 1000\/h/);
    await assert.rejects(api.grant('nobody', 'vault'), (err: unknown) => err instanceof ApiError && err.code === 'NOT_FOUND' && /no service 'nobody'/.test(err.message));
    await assert.rejects(api.grant('relay', 'vault', { ratePerSecond: -1, methods: [] } as never), (err: unknown) => err instanceof ApiError && err.status === 400 && err.fields.length === 2);
    const shown = await squadron(['policy', 'vault'], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /vault \(squad bank\): open; callers without a grant get 50\/s burst 100/);
    assert.match(shown.stdout, /grant\s+relay\s+-\s+default \(50\/s burst 100\)\s+subscribe vault.events/);
  });
});
