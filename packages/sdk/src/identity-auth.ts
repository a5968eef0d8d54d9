import type { AuthBody } from '@squadron/protocol';
import type { AuthSource } from '@squadron/transport';
import { Identity } from '@squadron/identity';

/**
 * The Auth a connection sends: the claims, plus, when this process has an identity, its
 * credential and a proof signed over the accepting side's nonce. The identity defaults to the
 * one its agent put in the environment.
 */
export function authWith(claims: Omit<AuthBody, 'version'>, identity: Identity | null | undefined = Identity.fromEnv()): AuthSource {
  if (!identity) return claims;
  return (hello) => ({ ...claims, ...identity.prove(hello.nonce) });
}
