import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { StorageError } from '../provisioner.ts';

/** Where memcached is looked for after $PATH: Debian's package puts it in /usr/bin. */
const WELL_KNOWN = ['/usr/bin/memcached', '/usr/local/bin/memcached', '/usr/sbin/memcached'];

/**
 * The memcached binary of this machine: `explicit` (the platform config) when given, else
 * SQUADRON_MEMCACHED_BIN, else the first `memcached` on $PATH or in the usual places.
 * Throws MISSING_BINARY naming the package to install.
 *
 * @example findMemcached() // '/usr/bin/memcached'
 */
export function findMemcached(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = explicit ?? env.SQUADRON_MEMCACHED_BIN;
  if (chosen) {
    if (isExecutable(chosen)) return chosen;
    throw missing(`${chosen} (set in the platform config or SQUADRON_MEMCACHED_BIN) is not an executable file`);
  }
  const onPath = (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'memcached'));
  const found = [...onPath, ...WELL_KNOWN].find(isExecutable);
  if (found) return found;
  throw missing('no memcached binary on $PATH or in /usr/bin');
}

function missing(why: string): StorageError {
  return new StorageError(
    'MISSING_BINARY',
    `memcached storage needs the memcached server: ${why}. Install the Debian package 'memcached' ` +
      `(apt-get install memcached), or point SQUADRON_MEMCACHED_BIN at the binary.`,
  );
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `-u` user memcached needs when the platform runs as root (memcached refuses to run as root
 * without one): the `memcache` user Debian's package creates, else `nobody`. None otherwise.
 */
export function memcachedUser(explicit?: string, passwd = '/etc/passwd'): string | null {
  if (explicit) return explicit;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  let users: string[] = [];
  try {
    users = readFileSync(passwd, 'utf8').split('\n').map((line) => line.split(':')[0] ?? '');
  } catch {
    // No passwd file to read: nobody exists on every Unix.
  }
  return users.includes('memcache') ? 'memcache' : 'nobody';
}
