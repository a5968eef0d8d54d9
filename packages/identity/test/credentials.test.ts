import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { AuthFailedError } from '@squadron/protocol';
import { CredentialIssuer, CredentialVerifier, Identity, mustMatch, type CredentialClaims } from '@squadron/identity';

const claims: CredentialClaims = { role: 'instance', site: 'sto', name: 'playlists-sto-1', service: 'playlists', squad: 'music' };

/** The reason an AuthFailedError carries, or a failure if something else was thrown. */
async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AuthFailedError, `expected AuthFailedError, got ${String(err)}`);
    assert.equal(err.code, 'AUTH_FAILED');
    return String(err.details?.reason);
  }
  assert.fail('accepted');
}

describe('credentials and handshake proofs', () => {
  let issuer: CredentialIssuer;
  let verifier: CredentialVerifier;
  const revoked = new Set<string>();

  before(async () => {
    issuer = await CredentialIssuer.generate();
    verifier = new CredentialVerifier({ trust: [issuer.publicJwk()], isRevoked: (id) => revoked.has(id) });
  });

  async function holder(c: CredentialClaims = claims, ttlMs = 60_000): Promise<Identity> {
    const { privateKey, publicJwk } = Identity.newKey();
    const { credential } = await issuer.issue(c, publicJwk, ttlMs);
    return new Identity(credential, privateKey);
  }

  it('accepts a credential proven over this connection\'s nonce, with its claims', async () => {
    const me = await holder();
    const { credential, proof } = me.prove('nonce-1');
    const peer = await verifier.verify(credential, proof, 'nonce-1');
    assert.deepEqual({ ...peer, id: 'x', expiresAt: 0 }, { ...claims, id: 'x', expiresAt: 0 });
    assert.ok(peer.expiresAt > Date.now() && peer.expiresAt <= Date.now() + 60_000);
    mustMatch(peer, { role: 'instance', site: 'sto', service: 'playlists', instance: 'playlists-sto-1' });
  });

  it('refuses a replayed handshake: the same credential and proof against another nonce', async () => {
    const { credential, proof } = (await holder()).prove('nonce-seen-on-the-wire');
    assert.equal(await reasonOf(verifier.verify(credential, proof, 'a-fresh-nonce')), 'bad-proof');
  });

  it('refuses a stolen credential proven with another key', async () => {
    const victim = await holder();
    const thief = new Identity(victim.credential, Identity.newKey().privateKey);
    const { credential, proof } = thief.prove('n');
    assert.equal(await reasonOf(verifier.verify(credential, proof, 'n')), 'bad-proof');
  });

  it('refuses a credential signed by another issuer, or with its claims altered', async () => {
    const other = await CredentialIssuer.generate();
    const { privateKey, publicJwk } = Identity.newKey();
    const forged = new Identity((await other.issue(claims, publicJwk, 60_000)).credential, privateKey).prove('n');
    assert.equal(await reasonOf(verifier.verify(forged.credential, forged.proof, 'n')), 'forged');

    const real = (await holder()).prove('n');
    const [h, body, sig] = real.credential.split('.') as [string, string, string];
    const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), squad: 'admin' })).toString('base64url');
    assert.equal(await reasonOf(verifier.verify(`${h}.${altered}.${sig}`, real.proof, 'n')), 'forged');
    assert.equal(await reasonOf(verifier.verify('not-a-jwt', real.proof, 'n')), 'malformed');
    assert.equal(await reasonOf(verifier.verify(undefined, undefined, 'n')), 'missing');
  });

  it('refuses an expired credential, and a revoked one', async () => {
    const expired = (await holder(claims, -10_000)).prove('n');
    assert.equal(await reasonOf(verifier.verify(expired.credential, expired.proof, 'n')), 'expired');
    const { privateKey, publicJwk } = Identity.newKey();
    const issued = await issuer.issue(claims, publicJwk, 60_000);
    const p = new Identity(issued.credential, privateKey).prove('n');
    await verifier.verify(p.credential, p.proof, 'n');
    revoked.add(issued.id);
    assert.equal(await reasonOf(verifier.verify(p.credential, p.proof, 'n')), 'revoked');
  });

  it('refuses a handshake that claims to be someone its credential does not name', async () => {
    const me = await holder();
    const p = me.prove('n');
    const peer = await verifier.verify(p.credential, p.proof, 'n');
    assert.throws(() => mustMatch(peer, { role: 'instance', site: 'sto', service: 'billing', instance: 'playlists-sto-1' }), (e: AuthFailedError) => e.details?.reason === 'mismatch');
    assert.throws(() => mustMatch(peer, { role: 'broker', site: 'sto' }), (e: AuthFailedError) => e.details?.reason === 'mismatch');
    assert.throws(() => mustMatch(peer, { role: 'instance', site: 'gcp-eu', service: 'playlists', instance: 'playlists-sto-1' }), (e: AuthFailedError) => e.details?.reason === 'mismatch');
  });

  it('keeps its key across a renewal, and round-trips through the environment', async () => {
    const { privateKey, publicJwk } = Identity.newKey();
    const first = await issuer.issue(claims, publicJwk, 60_000);
    const env = Identity.toEnv(first.credential, privateKey);
    const me = Identity.fromEnv(env)!;
    const second = await issuer.issue(claims, me.publicJwk, 120_000);
    me.renew(second.credential);
    const p = me.prove('n2');
    assert.equal(p.credential, second.credential);
    assert.equal((await verifier.verify(p.credential, p.proof, 'n2')).id, second.id);
    assert.equal(Identity.fromEnv({}), null);
  });

  it('a control plane that restarts with its saved key keeps its credentials valid', async () => {
    const restarted = await CredentialIssuer.fromJwk(issuer.toJwk());
    assert.equal(restarted.keyId, issuer.keyId);
    const { privateKey, publicJwk } = Identity.newKey();
    const p = new Identity((await restarted.issue(claims, publicJwk, 60_000)).credential, privateKey).prove('n');
    assert.equal((await verifier.verify(p.credential, p.proof, 'n')).name, claims.name);
  });
});
