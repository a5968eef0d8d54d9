export { CredentialIssuer } from './issuer.ts';
export type { IssuedCredential } from './issuer.ts';
export { Identity, IDENTITY_ENV } from './holder.ts';
export { CredentialVerifier, mustMatch } from './verifier.ts';
export type { VerifierOptions, AuthFailure } from './verifier.ts';
export type { CredentialClaims, CredentialRole, VerifiedPeer, HandshakeProof } from './claims.ts';
