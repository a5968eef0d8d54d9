import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, type JWK } from 'jose';
import { AUDIENCE, ISSUER, type CredentialClaims } from './claims.ts';

export interface IssuedCredential {
  credential: string;
  id: string;
  expiresAt: number;
}

/**
 * The control plane's signing key, and the credentials it issues. A credential names its
 * holder (role, site, service, squad), expires, and is bound (`cnf.jwk`, RFC 7800) to a public
 * key whose private half never leaves the holder: showing the credential is not enough, the
 * holder must sign each connection's nonce with that key.
 */
export class CredentialIssuer {
  private constructor(private readonly key: KeyObject, readonly keyId: string) {}

  /** A new Ed25519 signing key. */
  static async generate(): Promise<CredentialIssuer> {
    const { privateKey } = generateKeyPairSync('ed25519');
    return CredentialIssuer.fromPrivateKey(privateKey);
  }

  /** The key as `toJwk()` wrote it. */
  static async fromJwk(jwk: JWK): Promise<CredentialIssuer> {
    return CredentialIssuer.fromPrivateKey(createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' }));
  }

  private static async fromPrivateKey(key: KeyObject): Promise<CredentialIssuer> {
    const pub = createPublicKey(key).export({ format: 'jwk' }) as JWK;
    return new CredentialIssuer(key, await calculateJwkThumbprint(pub));
  }

  /** The private key, for the control plane to keep (it is a secret). */
  toJwk(): JWK {
    return this.key.export({ format: 'jwk' }) as JWK;
  }

  /** The public key that verifiers trust, with its id. */
  publicJwk(): JWK {
    return { ...(createPublicKey(this.key).export({ format: 'jwk' }) as JWK), kid: this.keyId, alg: 'EdDSA', use: 'sig' };
  }

  /** Sign a credential for `claims`, bound to `holderKey` (a public JWK), valid for `ttlMs`. */
  async issue(claims: CredentialClaims, holderKey: JWK, ttlMs: number): Promise<IssuedCredential> {
    const id = randomBytes(12).toString('base64url');
    const now = Date.now();
    const expiresAt = now + ttlMs;
    const credential = await new SignJWT({ ...claims, cnf: { jwk: { kty: holderKey.kty, crv: holderKey.crv, x: holderKey.x } } })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.keyId, typ: 'squadron-credential+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(claims.name)
      .setJti(id)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(expiresAt / 1000))
      .sign(this.key);
    return { credential, id, expiresAt: Math.floor(expiresAt / 1000) * 1000 };
  }
}
