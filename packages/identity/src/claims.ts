/** Who a credential names. `instance`: a service's instance; `broker`: a site's broker; `client`: the CLI or a script acting for a squad. */
export type CredentialRole = 'instance' | 'broker' | 'client';

export interface CredentialClaims {
  role: CredentialRole;
  site: string;
  /** Instances: the instance id; brokers: `broker:<site>`; clients: a name for logs. */
  name: string;
  /** Instances and clients: the service they act as (clients: none). */
  service?: string;
  /** The squad that owns the service, or the client's squad; `admin` for the platform's own. */
  squad: string;
}

/** A credential that passed every check: its claims, its id and when it expires. */
export interface VerifiedPeer extends CredentialClaims {
  /** The credential's id (`jti`): what a revocation names. */
  id: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** What a connecting side puts in its handshake's Auth frame. */
export interface HandshakeProof {
  /** The credential: a JWT signed by the control plane (EdDSA), bound to the holder's key. */
  credential: string;
  /** The holder's signature (Ed25519, base64url) over the accepting side's fresh nonce. */
  proof: string;
}

export const ISSUER = 'squadron-control';
export const AUDIENCE = 'squadron';

/** The bytes a proof signs: the nonce, with a label so that the key signs nothing else by mistake. */
export function proofPayload(nonce: string): Buffer {
  return Buffer.from(`squadron-handshake-v1\n${nonce}`, 'utf8');
}
