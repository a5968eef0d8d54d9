import type { Logger } from 'pino';
import { ControlClient } from '@squadron/client';
import { CredentialVerifier, Identity } from '@squadron/identity';

const REVOCATIONS_EVERY_MS = 1000;

export interface BrokerIdentity {
  verifier: CredentialVerifier;
  self: Identity;
  stop(): void;
}

/**
 * What a broker needs to check identities, from its control plane: the keys that verify
 * credentials, a credential of its own (renewed at two thirds of its life), and the revoked
 * credentials, polled every second so that a revocation takes effect within about a second.
 */
export async function brokerIdentity(control: ControlClient, site: string, log: Logger): Promise<BrokerIdentity> {
  const jwks = await control.jwks();
  let revoked = new Set<string>();
  const verifier = CredentialVerifier.fromJwks(JSON.stringify(jwks), (id) => revoked.has(id));
  const { privateKey, publicJwk } = Identity.newKey();
  const first = await control.brokerCredential(site, publicJwk);
  const self = new Identity(first.credential, privateKey);
  revoked = new Set((await control.revokedCredentials()).ids);

  let renewal: NodeJS.Timeout;
  const scheduleRenewal = (expiresAt: number) => {
    renewal = setTimeout(async () => {
      try {
        const next = await control.brokerCredential(site, publicJwk);
        self.renew(next.credential);
        scheduleRenewal(next.expiresAt);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'cannot renew the broker\'s credential; trying again in 5 s');
        scheduleRenewal(Date.now() + 7500);
      }
    }, Math.max(1000, Math.floor(((expiresAt - Date.now()) * 2) / 3)));
    renewal.unref();
  };
  scheduleRenewal(first.expiresAt);
  const polling = setInterval(() => {
    control.revokedCredentials().then(({ ids }) => (revoked = new Set(ids)), (err: unknown) => log.debug({ err: (err as Error).message }, 'cannot read revocations; keeping the last list'));
  }, REVOCATIONS_EVERY_MS);
  polling.unref();
  return { verifier, self, stop: () => { clearTimeout(renewal); clearInterval(polling); } };
}
