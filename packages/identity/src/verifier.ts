import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { AuthFailedError } from '@squadron/protocol';
import { AUDIENCE, ISSUER, proofPayload, type CredentialClaims, type CredentialRole, type VerifiedPeer } from './claims.ts';

export interface VerifierOptions {
  /** The control plane's public keys (JWKS). */
  trust: JWK[];
  /** Whether a credential id has been revoked. */
  isRevoked?: (id: string) => boolean;
  /** Allowed clock difference with the issuer, in seconds (default 5). */
  clockToleranceS?: number;
}

/** Why a credential was refused; `details.reason` of the AuthFailedError. */
export type AuthFailure = 'missing' | 'malformed' | 'forged' | 'expired' | 'revoked' | 'bad-proof' | 'mismatch';

function refuse(reason: AuthFailure, message: string, cause?: unknown): AuthFailedError {
  return new AuthFailedError(message, { details: { reason }, ...(cause !== undefined ? { cause } : {}) });
}

const ROLES: readonly CredentialRole[] = ['instance', 'broker', 'client'];

/**
 * Checks a handshake's credential and proof: signed by a trusted control-plane key, for this
 * platform, not expired, not revoked, and proven by the holder's signature over this
 * connection's own nonce (a recorded handshake replayed elsewhere fails). Every refusal is an
 * AuthFailedError whose `details.reason` says which check failed.
 */
export class CredentialVerifier {
  private readonly keys: ReturnType<typeof createLocalJWKSet>;

  constructor(private readonly options: VerifierOptions) {
    this.keys = createLocalJWKSet({ keys: options.trust });
  }

  /** A verifier trusting a JWKS as the control plane serves it (`/v1/identity/jwks`), given as JSON text. */
  static fromJwks(jwks: string, isRevoked?: (id: string) => boolean): CredentialVerifier {
    const { keys } = JSON.parse(jwks) as { keys: JWK[] };
    return new CredentialVerifier({ trust: keys, ...(isRevoked ? { isRevoked } : {}) });
  }

  async verify(credential: string | undefined, proof: string | undefined, nonce: string): Promise<VerifiedPeer> {
    if (!credential || !proof) throw refuse('missing', 'no credential: this peer only accepts connections that prove their identity');
    let payload: JWTPayload & Partial<CredentialClaims> & { cnf?: { jwk?: JWK } };
    try {
      ({ payload } = await jwtVerify(credential, this.keys, {
        issuer: ISSUER, audience: AUDIENCE, algorithms: ['EdDSA'], clockTolerance: this.options.clockToleranceS ?? 5,
        requiredClaims: ['exp', 'jti', 'sub'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw refuse('expired', 'the credential has expired; the agent renews it before it does, so check that the agent reaches the control plane', err);
      if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) {
        throw refuse('forged', 'the credential is not signed by this platform\'s control plane', err);
      }
      throw refuse('malformed', `the credential is not valid: ${(err as Error).message}`, err);
    }
    const id = payload.jti!;
    if (this.options.isRevoked?.(id)) throw refuse('revoked', `credential ${id} has been revoked`);
    const holder = payload.cnf?.jwk;
    if (!holder || holder.kty !== 'OKP' || holder.crv !== 'Ed25519' || typeof holder.x !== 'string') throw refuse('malformed', 'the credential is bound to no Ed25519 key');
    if (!ROLES.includes(payload.role as CredentialRole) || typeof payload.site !== 'string' || typeof payload.name !== 'string' || typeof payload.squad !== 'string') {
      throw refuse('malformed', 'the credential lacks its role, site, name or squad');
    }
    let ok = false;
    try {
      ok = verifySignature(null, proofPayload(nonce), createPublicKey({ key: holder as import('node:crypto').JsonWebKey, format: 'jwk' }), Buffer.from(proof, 'base64url'));
    } catch {
      ok = false;
    }
    if (!ok) throw refuse('bad-proof', 'the proof does not sign this connection\'s nonce with the credential\'s key (a replayed or borrowed credential)');
    return {
      role: payload.role as CredentialRole, site: payload.site, name: payload.name, squad: payload.squad,
      ...(typeof payload.service === 'string' ? { service: payload.service } : {}),
      id, expiresAt: payload.exp! * 1000,
    };
  }

  /**
   * A renewed credential proven on an open connection (Reauth), over the connection's own nonce:
   * it must pass every check of the first, and name the same holder (role, site, name, service
   * and squad). Returns the peer as the new credential has it (its new expiry).
   */
  async renew(current: VerifiedPeer, credential: string | undefined, proof: string | undefined, nonce: string): Promise<VerifiedPeer> {
    const next = await this.verify(credential, proof, nonce);
    for (const k of ['role', 'site', 'name', 'service', 'squad'] as const) {
      if (next[k] !== current[k]) throw refuse('mismatch', `a renewed credential must name the same holder: its ${k} is '${String(next[k])}', the connection's '${String(current[k])}'`);
    }
    return next;
  }

  /**
   * Whether a peer let in earlier may stay: a connection lives past its handshake, so its
   * credential is checked again (every second by brokers and instances). The refusal to send
   * it as the connection's last frame, or null.
   */
  recheck(peer: VerifiedPeer, now = Date.now()): AuthFailedError | null {
    if (this.options.isRevoked?.(peer.id)) return refuse('revoked', `credential ${peer.id} has been revoked; this connection is closed`);
    if (peer.expiresAt + (this.options.clockToleranceS ?? 5) * 1000 <= now) {
      return refuse('expired', `credential ${peer.id} expired; connect again with the renewed one`);
    }
    return null;
  }
}

/** Refuse a peer whose handshake claims differ from what its credential says. */
export function mustMatch(peer: VerifiedPeer, claimed: { role: string; site: string; service?: string | undefined; instance?: string | undefined }): void {
  const problems: string[] = [];
  if (claimed.role !== peer.role && !(claimed.role === 'control' && peer.role === 'client')) problems.push(`role '${claimed.role}' (credential: '${peer.role}')`);
  if (peer.role !== 'client' && claimed.site !== peer.site) problems.push(`site '${claimed.site}' (credential: '${peer.site}')`);
  if (peer.role === 'instance' && (claimed.service !== peer.service || claimed.instance !== peer.name)) {
    problems.push(`instance '${claimed.service}/${claimed.instance}' (credential: '${peer.service}/${peer.name}')`);
  }
  if (problems.length > 0) throw refuse('mismatch', `the handshake claims ${problems.join(', ')}`);
}
