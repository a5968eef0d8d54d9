import { SquadronError } from '@squadron/protocol';
import type { ServiceBody, WhoAmIBody } from '@squadron/client';

/** A squad asked for the logs of a service another squad owns. */
export class LogsForbiddenError extends SquadronError {
  override readonly name = 'LogsForbiddenError';
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

/**
 * Who reads a service's logs: the squad that owns it, and the admin. Its handlers' lines may
 * hold what its squad keeps to itself (payloads, customers' ids), as its storage does.
 */
export function assertMayReadLogs(who: WhoAmIBody, service: ServiceBody): void {
  if (who.kind === 'admin' || (who.kind === 'squad' && who.name === service.squad)) return;
  throw new LogsForbiddenError(`service '${service.name}' belongs to squad '${service.squad}': a squad reads the logs of its own services only`);
}
