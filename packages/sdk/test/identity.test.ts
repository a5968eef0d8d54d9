import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Broker } from '@squadron/broker';
import { AuthFailedError, PermissionDeniedError, type HelloBody } from '@squadron/protocol';
import { Connection, connectHandshake, dial } from '@squadron/transport';
import { CredentialIssuer, CredentialVerifier, Identity, type CredentialClaims } from '@squadron/identity';
import { connect, defineService, runService, type Client, type RunningService } from '@squadron/sdk';
import { waitFor } from '@squadron/testkit';

const silent = pino({ level: 'silent' });

/**
 * A broker and an instance that check identities: every connection must prove a credential
 * the control plane signed, over the accepting side's fresh nonce.
 */
describe('verified handshakes', () => {
  let issuer: CredentialIssuer;
  let verifier: CredentialVerifier;
  const revoked = new Set<string>();
  let broker: Broker;
  let instance: RunningService;
  let caller: Client;
  let audits = 0;

  async function identity(claims: CredentialClaims, ttlMs = 60_000): Promise<Identity & { id: string }> {
    const { privateKey, publicJwk } = Identity.newKey();
    const issued = await issuer.issue(claims, publicJwk, ttlMs);
    return Object.assign(new Identity(issued.credential, privateKey), { id: issued.id });
  }
  const client = (name: string): CredentialClaims => ({ role: 'client', site: 'sto', name, squad: 'music' });

  /** Dial the broker with these Auth fields (computed from Hello); the handshake's outcome. */
  async function handshake(address: string, auth: (hello: HelloBody) => object): Promise<unknown> {
    const conn = new Connection(await dial(address));
    try {
      return await connectHandshake(conn, (hello) => ({ role: 'client', site: 'sto', name: 'probe', ...auth(hello) }));
    } catch (err) {
      return err;
    } finally {
      conn.close();
    }
  }
  const reason = (outcome: unknown) => {
    assert.ok(outcome instanceof AuthFailedError, `expected AUTH_FAILED, got ${String(outcome)}`);
    return outcome.details?.reason;
  };

  before(async () => {
    issuer = await CredentialIssuer.generate();
    verifier = new CredentialVerifier({ trust: [issuer.publicJwk()], isRevoked: (id) => revoked.has(id) });
    broker = new Broker({ site: 'sto', logger: silent, identity: { verifier, self: await identity({ role: 'broker', site: 'sto', name: 'broker:sto', squad: 'admin' }) } });
    await broker.start();
    const def = defineService({
      name: 'vault',
      methods: {
        open: async () => 'opened',
        // Private to the owner squad (music): a caller of another squad never reaches it.
        audit: { visibility: 'squad', handler: async () => ++audits },
      },
    });
    instance = await runService(def, {
      site: 'sto', broker: broker.address, logger: silent, instanceId: 'vault-1', verifier,
      identity: await identity({ role: 'instance', site: 'sto', name: 'vault-1', service: 'vault', squad: 'music' }),
    });
    caller = await connect({ site: 'sto', broker: broker.address, logger: silent, identity: await identity(client('ops')) });
  });

  after(async () => {
    await caller?.close();
    await instance?.stop();
    await broker?.stop();
  });

  it('lets proven instances register and proven callers call them', async () => {
    await caller.waitForInstances('vault');
    assert.equal(await caller.call('vault', 'open', null), 'opened');
  });

  it('keeps a squad-private method to the owner squad: others get PERMISSION_DENIED and the handler never runs', async () => {
    await caller.waitForInstances('vault');
    assert.equal(await caller.call('vault', 'audit', null), 1, 'a caller of squad music');
    const outsider = await connect({ site: 'sto', broker: broker.address, logger: silent, identity: await identity({ role: 'client', site: 'sto', name: 'curious', squad: 'video' }) });
    try {
      await outsider.waitForInstances('vault');
      await assert.rejects(outsider.call('vault', 'audit', null), (err: unknown) => err instanceof PermissionDeniedError && err.details?.policy === 'visibility: squad');
      assert.equal(await outsider.call('vault', 'open', null), 'opened', 'public methods stay open to it');
    } finally {
      await outsider.close();
    }
    assert.equal(audits, 1, 'the private handler ran only for the owner squad');
  });

  it('refuses a client with no credential: connect fails at once with AUTH_FAILED', async () => {
    const t0 = Date.now();
    await assert.rejects(connect({ site: 'sto', broker: broker.address, logger: silent, identity: null, connectTimeoutMs: 5000 }),
      (err: unknown) => err instanceof AuthFailedError && err.details?.reason === 'missing');
    assert.ok(Date.now() - t0 < 2000, 'it does not retry a refusal until its timeout');
  });

  it('refuses forged, expired, revoked, replayed and borrowed credentials, each saying why', async () => {
    const other = await CredentialIssuer.generate();
    const { privateKey, publicJwk } = Identity.newKey();
    const forged = new Identity((await other.issue(client('mallory'), publicJwk, 60_000)).credential, privateKey);
    assert.equal(reason(await handshake(broker.address, (h) => forged.prove(h.nonce))), 'forged');

    const expired = await identity(client('late'), -10_000);
    assert.equal(reason(await handshake(broker.address, (h) => expired.prove(h.nonce))), 'expired');

    const fired = await identity(client('fired'));
    assert.ok(!(await handshake(broker.address, (h) => fired.prove(h.nonce)) instanceof Error), 'accepted before revocation');
    revoked.add(fired.id);
    assert.equal(reason(await handshake(broker.address, (h) => fired.prove(h.nonce))), 'revoked');

    // A recorded Auth (credential and proof) replayed on a new connection meets a new nonce.
    const honest = await identity(client('honest'));
    let recorded: object = {};
    await handshake(broker.address, (h) => (recorded = honest.prove(h.nonce)));
    assert.equal(reason(await handshake(broker.address, () => recorded)), 'bad-proof');

    const thief = new Identity(honest.credential, Identity.newKey().privateKey);
    assert.equal(reason(await handshake(broker.address, (h) => thief.prove(h.nonce))), 'bad-proof');
  });

  it('refuses a credential used to claim another identity', async () => {
    const me = await identity({ role: 'instance', site: 'sto', name: 'vault-2', service: 'vault', squad: 'music' });
    const outcome = await handshake(broker.address, (h) => ({ role: 'instance', service: 'billing', instance: 'vault-2', ...me.prove(h.nonce) }));
    assert.equal(reason(outcome), 'mismatch');
  });

  it('the instance checks its callers too: a direct connection without a credential is refused', async () => {
    const address = instance.info.address;
    assert.equal(reason(await handshake(address, () => ({}))), 'missing');
    const ok = await identity(client('direct'));
    assert.ok(!(await handshake(address, (h) => ok.prove(h.nonce)) instanceof Error));
  });

  it('cuts off connections whose credential is revoked after their handshake, within about a second', async () => {
    const soon = await identity(client('soon-fired'));
    const c = await connect({ site: 'sto', broker: broker.address, logger: silent, identity: soon });
    try {
      await c.waitForInstances('vault');
      assert.equal(await c.call('vault', 'open', null), 'opened', 'connected to the broker and to the instance');
      revoked.add(soon.id);
      const t0 = Date.now();
      // Both open connections are closed; the reconnection is refused for the revoked credential.
      await waitFor(() => c.call('vault', 'open', null, { timeoutMs: 1000 }).then(() => false, (err: unknown) => err instanceof AuthFailedError),
        'the revoked caller to be cut off', 5000, 50);
      assert.ok(Date.now() - t0 < 3000, `cut off ${Date.now() - t0} ms after the revocation`);
    } finally {
      await c.close();
    }
  });

  it('checks a connection\'s credential again for expiry and revocation, not only at the handshake', async () => {
    const held = await identity(client('long-lived'));
    const { credential, proof } = held.prove('a-nonce');
    const peer = await verifier.verify(credential, proof, 'a-nonce');
    assert.equal(verifier.recheck(peer), null, 'still valid now');
    assert.equal(verifier.recheck(peer, peer.expiresAt + 10_000)?.details?.reason, 'expired');
    revoked.add(held.id);
    assert.equal(verifier.recheck(peer)?.details?.reason, 'revoked');
  });
});
