import { PermissionDeniedError } from '@squadron/protocol';
import { ADMIN_SQUAD, type Caller } from '@squadron/policy';

/** The prefix of a subscriber's own group, one per subscription (the SDK's default). */
const PRIVATE_GROUP = '_sub.';

/**
 * Who may join a subscription group. The members of a group share its messages, so joining
 * another's group takes messages from it: a group named after a service is that service's
 * alone; a private group (`_sub.…`) is its connection's alone; any other group belongs to the
 * squad of its members while it has any. The admin joins any. Throws PERMISSION_DENIED.
 *
 * `members`: the callers of the connections in the group now (null for one that is not judged);
 * `mine`: whether every such connection is this one.
 */
export function checkGroupMembership(caller: Caller, group: string, isService: boolean, members: Array<Caller | null>, mine: boolean): void {
  if (caller.squad === ADMIN_SQUAD) return;
  if (group.startsWith(PRIVATE_GROUP)) {
    if (mine) return;
    throw new PermissionDeniedError(`group '${group}' is another subscriber's own: subscribe with a group of your own`);
  }
  if (isService) {
    if (caller.service === group) return;
    throw new PermissionDeniedError(`group '${group}' is service ${group}'s: only its instances share its messages; subscribe with a group of your own`);
  }
  const other = members.find((m) => m !== null && m.squad !== ADMIN_SQUAD && m.squad !== caller.squad);
  if (other) throw new PermissionDeniedError(`group '${group}' belongs to squad '${other!.squad}', whose subscribers share its messages: subscribe with a group of your own`);
}
