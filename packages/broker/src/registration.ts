import { PermissionDeniedError, type AuthBody, type InstanceInfo } from '@squadron/protocol';

/**
 * Whether a connection may register `info`: an instance registers itself, and nothing else.
 * The handshake's claims (verified against the credential when identities are checked) name
 * one service, one instance id and one site; a registration must repeat them exactly, and a
 * connection holds at most that one registration. Checked once per Register frame, never per
 * request. Throws PERMISSION_DENIED, which closes the connection and changes nothing.
 */
export function checkRegistration(auth: AuthBody, site: string, info: InstanceInfo, held: ReadonlySet<string>): void {
  const claimed = `${auth.service}/${auth.instance}@${auth.site}`;
  if (auth.role !== 'instance') throw new PermissionDeniedError(`only an instance may register; this connection is a ${auth.role}`);
  if (info.service !== auth.service || info.id !== auth.instance || info.site !== auth.site) {
    throw new PermissionDeniedError(`this connection is instance ${claimed}: it may not register ${info.service}/${info.id}@${info.site}`);
  }
  if (info.site !== site) throw new PermissionDeniedError(`instance ${claimed} registered at the broker of '${site}': register at its own site's broker`);
  if (held.size > 0 && !held.has(info.id)) throw new PermissionDeniedError(`a connection registers one instance, and this one holds ${[...held].join(', ')}`);
}

/**
 * Whether a registration may take over an instance id that another connection holds: only the
 * same instance (the same service, as its credential names it) coming back on a new connection
 * before the broker noticed the old one is gone. Anyone else is refused: one connection never
 * displaces another's instance.
 */
export function checkTakeover(holder: AuthBody, info: InstanceInfo): void {
  if (holder.service === info.service) return;
  throw new PermissionDeniedError(`instance id '${info.id}' is held by another connection (service '${holder.service}'): pick another id`);
}
