import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { decodeJwt, type JWK } from 'jose';
import { proofPayload, type CredentialClaims, type HandshakeProof } from './claims.ts';

/** Environment variables through which an agent hands an instance its identity. */
export const IDENTITY_ENV = { credential: 'SQUADRON_CREDENTIAL', key: 'SQUADRON_IDENTITY_KEY' } as const;

/**
 * A process's identity: its credential, and the private key the credential is bound to. It
 * proves itself by signing the accepting side's nonce; the credential can be replaced (rotated)
 * while the key stays.
 */
export class Identity {
  private readonly renewals = new Set<() => void>();

  constructor(private credentialText: string, private readonly key: KeyObject) {}

  /** A fresh key pair for a holder: the public half goes to the issuer, the private half stays. */
  static newKey(): { privateKey: KeyObject; publicJwk: JWK } {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    return { privateKey, publicJwk: publicKey.export({ format: 'jwk' }) as JWK };
  }

  /** The identity an agent put in this process's environment, or null when there is none. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): Identity | null {
    const credential = env[IDENTITY_ENV.credential];
    const key = env[IDENTITY_ENV.key];
    if (!credential || !key) return null;
    return new Identity(credential, createPrivateKey({ key, format: 'pem' }));
  }

  /** Environment entries that hand this identity to a child process. */
  static toEnv(credential: string, privateKey: KeyObject): Record<string, string> {
    return { [IDENTITY_ENV.credential]: credential, [IDENTITY_ENV.key]: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
  }

  get credential(): string {
    return this.credentialText;
  }

  /** What this process's own credential says of it (read, not verified: it is its own). */
  get claims(): CredentialClaims | null {
    try {
      const c = decodeJwt(this.credentialText) as Partial<CredentialClaims>;
      return typeof c.squad === 'string' && typeof c.role === 'string' ? (c as CredentialClaims) : null;
    } catch {
      return null;
    }
  }

  get publicJwk(): JWK {
    return createPublicKey(this.key).export({ format: 'jwk' }) as JWK;
  }

  /** Take a renewed credential (bound to the same key) for the connections made from now on. */
  renew(credential: string): void {
    this.credentialText = credential;
    for (const listener of this.renewals) listener();
  }

  /** Call `listener` after each renewal (to move open connections onto the new credential); returns how to stop. */
  onRenew(listener: () => void): () => void {
    this.renewals.add(listener);
    return () => this.renewals.delete(listener);
  }

  /** The Auth frame's proof for a handshake whose Hello carried `nonce`. */
  prove(nonce: string): HandshakeProof {
    return { credential: this.credentialText, proof: sign(null, proofPayload(nonce), this.key).toString('base64url') };
  }
}
