import { chmodSync, lstatSync, mkdirSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { SquadronError } from '@squadron/protocol';

/**
 * The platform's data directory holds its secrets (the admin token, the credential-signing key
 * and storage passwords in state.db, the kv data files): it is private to the platform's user,
 * as ssh keeps a private key ([docs/decisions/0014](../../../../docs/decisions/0014-instance-os-users.md)).
 */

/** A data directory other users can read or write, or one that is not ours: the platform does not start. */
export class DataDirError extends SquadronError {
  override readonly name = 'DataDirError';
  constructor(message: string) {
    super('STARTUP_FAILED', message);
  }
}

/** Files the platform's processes make are theirs alone (0600, folders 0700): call first thing in each. */
export function privateFileMode(): void {
  process.umask(0o077);
}

const isRoot = () => process.getuid?.() === 0;

/**
 * Makes the data directory, or checks the one that exists, and takes read and write away from
 * everyone else on whatever is in it. Where the platform runs as root, the directory and its
 * `storage` folder may be entered (0711, never listed) by the PostgreSQL servers' own user, each
 * server in a folder of its own user's (0700); elsewhere it is 0700.
 */
export function prepareDataDir(dir: string): void {
  const search = isRoot() ? 0o011 : 0;
  let st: Stats | null = null;
  try {
    st = lstatSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  if (st) {
    if (!st.isDirectory()) throw new DataDirError(`the data directory ${dir} is not a folder: point --data-dir (or SQUADRON_DATA_DIR) at a folder`);
    const uid = process.getuid?.();
    if (uid !== undefined && uid !== 0 && st.uid !== uid) {
      throw new DataDirError(`the data directory ${dir} belongs to another user (uid ${st.uid}): the platform keeps its secrets there, so it must be the platform's own (run as that user, or use another --data-dir)`);
    }
    if ((st.mode & 0o066) !== 0) {
      throw new DataDirError(
        `the data directory ${dir} can be read or written by other users (mode ${(st.mode & 0o777).toString(8)}), and it holds the platform's secrets: ` +
          `run \`chmod 700 ${dir}\` (and look at who may have read it), then start again`,
      );
    }
  }
  chmodSync(dir, 0o700 | search);
  makePrivate(dir);
  if (search) {
    // The storage servers' folders are found below it: their users pass through, and see nothing.
    const storage = join(dir, 'storage');
    mkdirSync(storage, { recursive: true, mode: 0o700 });
    chmodSync(storage, (lstatSync(storage).mode & 0o777) | search);
  }
}

/**
 * Group and other lose read and write on everything of ours below `dir` (what an earlier version
 * made 0644, SQLite's WAL and SHM files included); search on folders stays, since a storage
 * server's user may need to pass through. What belongs to another user (a PostgreSQL server's
 * files) is that server's to keep private.
 */
function makePrivate(dir: string): void {
  const uid = process.getuid?.();
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (st.isSymbolicLink() || (uid !== undefined && st.uid !== uid)) continue;
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) {
      if (mode & 0o066) chmodSync(path, mode & ~0o066);
      makePrivate(path);
    } else if (mode & 0o077) {
      chmodSync(path, mode & ~0o077);
    }
  }
}
