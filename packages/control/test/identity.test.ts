import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { JWK } from 'jose';
import { AuthFailedError } from '@squadron/protocol';
import { CredentialVerifier, Identity } from '@squadron/identity';
import type { CreatedSquadBody, CredentialBody, ErrorBody } from '@squadron/client';
import { buildControlServer, openStateStore, Sites, validateConfig, type PlatformConfig } from '@squadron/control';
import { silent, freshPostgresDatabase } from '@squadron/testkit';
import { STORES, TEST_CONFIG, startControl, type TestControl } from './harness.ts';

for (const store of STORES) {
  describe(`credentials from the control plane (${store} state store)`, () => {
    let c: TestControl;
    let music: CreatedSquadBody;
    let video: CreatedSquadBody;
    const call = (method: 'GET' | 'POST', url: string, token: string | null, payload?: object) =>
      c.app.inject({ method, url, ...(token ? { headers: c.as(token) } : {}), ...(payload ? { payload } : {}) });
    const verifier = async (revoked: string[] = []) => {
      const { keys } = (await call('GET', '/v1/identity/jwks', null)).json() as { keys: JWK[] };
      return new CredentialVerifier({ trust: keys, isRevoked: (id) => revoked.includes(id) });
    };
    const prove = async (v: CredentialVerifier, issued: CredentialBody, key: ReturnType<typeof Identity.newKey>) => {
      const p = new Identity(issued.credential, key.privateKey).prove('nonce');
      return v.verify(p.credential, p.proof, 'nonce');
    };

    before(async () => {
      c = await startControl(store, `identity_${store}`);
      music = (await call('POST', '/v1/squads', c.adminToken, { name: 'music' })).json() as CreatedSquadBody;
      video = (await call('POST', '/v1/squads', c.adminToken, { name: 'video' })).json() as CreatedSquadBody;
    });
    after(async () => c.close());

    it('serves its verifying keys without a token, and issues a squad a client credential for itself', async () => {
      const jwks = await call('GET', '/v1/identity/jwks', null);
      assert.equal(jwks.statusCode, 200);
      const key = Identity.newKey();
      const res = await call('POST', '/v1/credentials', music.token, { publicKey: key.publicJwk, site: 'sto', name: 'ops-script' });
      assert.equal(res.statusCode, 201, res.body);
      const peer = await prove(await verifier(), res.json() as CredentialBody, key);
      assert.deepEqual([peer.role, peer.squad, peer.site, peer.name], ['client', 'music', 'sto', 'ops-script']);
      assert.equal((await call('POST', '/v1/credentials', null, { publicKey: key.publicJwk })).statusCode, 401);
      const bad = await call('POST', '/v1/credentials', music.token, { publicKey: { kty: 'RSA', n: 'x', e: 'AQAB' } });
      assert.equal(bad.statusCode, 400);
    });

    it('issues brokers (admin only) and instances (only those placed on the asking agent)', async () => {
      const key = Identity.newKey();
      assert.equal((await call('POST', '/v1/sites/sto/credentials', music.token, { publicKey: key.publicJwk })).statusCode, 403);
      const broker = await call('POST', '/v1/sites/sto/credentials', c.adminToken, { publicKey: key.publicJwk });
      assert.equal(broker.statusCode, 201);
      assert.deepEqual((({ role, name, squad }) => ({ role, name, squad }))(await prove(await verifier(), broker.json() as CredentialBody, key)), { role: 'broker', name: 'broker:sto', squad: 'admin' });
      assert.equal((await call('POST', '/v1/sites/mars/credentials', c.adminToken, { publicKey: key.publicJwk })).statusCode, 404);
      const stranger = await call('POST', '/v1/agents/sto-nobody/credentials', c.adminToken, { instance: 'playlists-sto-1', publicKey: key.publicJwk });
      assert.equal(stranger.statusCode, 404);
      assert.match((stranger.json() as ErrorBody).error.message, /not placed on agent sto-nobody/);
    });

    it('revokes: the owner squad or the admin, and verifiers then refuse it', async () => {
      const key = Identity.newKey();
      const issued = (await call('POST', '/v1/credentials', music.token, { publicKey: key.publicJwk })).json() as CredentialBody;
      assert.equal((await call('POST', `/v1/credentials/${issued.id}/revoke`, video.token)).statusCode, 403);
      assert.equal((await call('POST', `/v1/credentials/${issued.id}/revoke`, music.token)).statusCode, 200);
      const { ids } = (await call('GET', '/v1/identity/revoked', video.token)).json() as { ids: string[] };
      assert.ok(ids.includes(issued.id));
      await assert.rejects(prove(await verifier(ids), issued, key), (err: unknown) => err instanceof AuthFailedError && err.details?.reason === 'revoked');
      assert.equal((await call('POST', '/v1/credentials/nope/revoke', c.adminToken)).statusCode, 404);
    });
  });
}

describe('the signing key', () => {
  it('lives in the state store: after a restart, credentials issued before still verify', async () => {
    const pg = await freshPostgresDatabase('signing_key');
    try {
      const sites = () => new Sites(validateConfig(TEST_CONFIG) as PlatformConfig);
      const first = await buildControlServer({ sites: sites(), db: await openStateStore(pg.url), adminToken: 'a', logger: silent });
      const key = Identity.newKey();
      const issued = (await first.inject({ method: 'POST', url: '/v1/credentials', headers: { authorization: 'Bearer a' }, payload: { publicKey: key.publicJwk } })).json() as CredentialBody;
      await first.close();
      const second = await buildControlServer({ sites: sites(), db: await openStateStore(pg.url), adminToken: 'a', logger: silent });
      const { keys } = (await second.inject('/v1/identity/jwks')).json() as { keys: JWK[] };
      await second.close();
      const p = new Identity(issued.credential, key.privateKey).prove('n');
      assert.equal((await new CredentialVerifier({ trust: keys }).verify(p.credential, p.proof, 'n')).id, issued.id);
    } finally {
      await pg.drop();
    }
  });
});
