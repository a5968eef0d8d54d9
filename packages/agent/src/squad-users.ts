import { createHash } from 'node:crypto';
import { ensureSystemUser, ensureSystemUserAsync, type OsUser } from '@squadron/storage';

/** Linux user names are at most 32 characters; `squadron-` leaves 23 for the squad's name. */
const MAX_USER_NAME = 32;
const PREFIX = 'squadron-';

/**
 * The OS user a squad's instances run as: `squadron-<squad>`, or, for a squad name too long for
 * a user name, its start and a hash of the whole (two squads never share one).
 */
export function squadUserName(squad: string): string {
  const plain = `${PREFIX}${squad}`;
  if (plain.length <= MAX_USER_NAME && /^[a-z][a-z0-9-]*$/.test(squad)) return plain;
  const hash = createHash('sha256').update(squad).digest('hex').slice(0, 10);
  const start = squad.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, MAX_USER_NAME - PREFIX.length - hash.length - 1);
  return `${PREFIX}${start}-${hash}`;
}

/**
 * The squads' OS users of this machine, made when first needed (root only: `useradd --system`,
 * no home, no login shell) and remembered.
 */
export class SquadUsers {
  private readonly known = new Map<string, OsUser>();

  userOf(squad: string): OsUser {
    let user = this.known.get(squad);
    if (!user) this.known.set(squad, (user = ensureSystemUser(squadUserName(squad))));
    return user;
  }

  /**
   * Make (or find) the squad's user without blocking, before its first instance starts: `useradd`
   * can wait on a locked /etc/passwd, and an agent that stops answering is taken for dead.
   */
  async prepare(squad: string): Promise<void> {
    if (!this.known.has(squad)) this.known.set(squad, await ensureSystemUserAsync(squadUserName(squad)));
  }
}
