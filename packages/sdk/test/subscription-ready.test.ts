import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Broker } from '@squadron/broker';
import { ClosedError, PermissionDeniedError, SquadronError } from '@squadron/protocol';
import { CredentialIssuer, CredentialVerifier, Identity, type CredentialClaims } from '@squadron/identity';
import { Policies, DEFAULT_RATE_LIMIT, type ServicePolicy } from '@squadron/policy';
import { connect, type Client } from '@squadron/sdk';
import { silent, waitFor } from '@squadron/testkit';

const vault = (p: Partial<ServicePolicy> = {}): ServicePolicy => ({ squad: 'bank', access: 'open', grants: [], denies: [], topics: ['vault.events'], queues: [], ...p });
const subscribeGrant = { caller: 'squad:tools', methods: [], rate: null, publish: [], subscribe: ['vault.events'], consume: [] };

/**
 * A subscription's `ready` tells what the broker did with it: served, or refused with the reason
 * (and the grant that would allow it). A real broker that checks identities and the platform's
 * policies; the subscriber is a client of squad 'tools', the topic is vault's (squad 'bank').
 */
describe('subscription ready', () => {
  let issuer: CredentialIssuer;
  let broker: Broker;
  let tools: Client;
  let version = 0;
  const setPolicies = (services: Record<string, ServicePolicy>) => broker.setPolicies(new Policies({ version: String(++version), defaultRate: DEFAULT_RATE_LIMIT, services }));

  async function identity(claims: CredentialClaims): Promise<Identity> {
    const { privateKey, publicJwk } = Identity.newKey();
    return new Identity((await issuer.issue(claims, publicJwk, 600_000)).credential, privateKey);
  }

  before(async () => {
    issuer = await CredentialIssuer.generate();
    const verifier = new CredentialVerifier({ trust: [issuer.publicJwk()] });
    broker = new Broker({ site: 'sto', logger: silent, identity: { verifier, self: await identity({ role: 'broker', site: 'sto', name: 'broker:sto', squad: 'admin' }) } });
    await broker.start();
    setPolicies({ vault: vault() });
    tools = await connect({ site: 'sto', broker: broker.address, logger: silent, identity: await identity({ role: 'client', site: 'sto', name: 'tools-cli', squad: 'tools' }) });
  });

  after(async () => {
    await tools?.close();
    await broker?.stop();
  });

  it('resolves once the broker serves the subscription, and messages flow', async () => {
    const seen: unknown[] = [];
    const sub = tools.subscribe('tools.free', (m) => void seen.push(m));
    await sub.ready;
    tools.publish('tools.free', { n: 1 });
    await waitFor(() => seen.length === 1, 'the message');
    sub.unsubscribe();
  });

  it('rejects with PERMISSION_DENIED naming the grant, for a topic another squad owns', async () => {
    const refusals: SquadronError[] = [];
    const sub = tools.subscribe('vault.events', () => {}, { onRefused: (err) => refusals.push(err) });
    await assert.rejects(sub.ready, (err: unknown) => err instanceof PermissionDeniedError
      && /topic 'vault.events' belongs to vault \(squad 'bank'\).*squadron grant squad:tools vault --subscribe vault.events/.test(err.message));
    assert.equal(refusals.length, 1, 'onRefused heard the refusal too');
    sub.unsubscribe();
  });

  it('rejects a group that is another service\'s', async () => {
    const sub = tools.subscribe('tools.free', () => {}, { group: 'vault' });
    await assert.rejects(sub.ready, (err: unknown) => err instanceof PermissionDeniedError && /group 'vault' is service vault's/.test(err.message));
    sub.unsubscribe();
  });

  it('tells onRefused when a served subscription is refused later, by a grant revoked', async () => {
    setPolicies({ vault: vault({ grants: [subscribeGrant] }) });
    const refusals: SquadronError[] = [];
    const sub = tools.subscribe('vault.events', () => {}, { onRefused: (err) => refusals.push(err) });
    await sub.ready;
    setPolicies({ vault: vault() });
    await waitFor(() => refusals.length === 1, 'the refusal after the revoke');
    assert.ok(refusals[0] instanceof PermissionDeniedError);
    assert.match(refusals[0].message, /squadron grant squad:tools vault --subscribe vault.events/);
    sub.unsubscribe();
  });

  it('rejects with CLOSED when unsubscribed before the broker answered', async () => {
    const sub = tools.subscribe('tools.free', () => {});
    sub.unsubscribe();
    await assert.rejects(sub.ready, (err: unknown) => err instanceof ClosedError);
  });
});
