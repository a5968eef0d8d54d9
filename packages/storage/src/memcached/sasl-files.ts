import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';
import { StorageError } from '../provisioner.ts';
import { openTo, type OsUser } from '../postgres/run-as.ts';
import { isExecutable } from './binary.ts';

/**
 * Every resource's servers take one login, checked by memcached's SASL (PLAIN, over the binary
 * protocol) against a password database of the resource's own. These are its files: a SASL
 * config (`memcached.conf`, found through SASL_CONF_PATH) and the database (`sasldb`, written by
 * Cyrus SASL's `saslpasswd2`), in a folder only the servers' user can enter
 * ([docs/decisions/0013](../../../../docs/decisions/0013-memcached-and-cassandra.md)).
 */

/** The SASL realm of every resource's login: its user name is `RESOURCE@squadron`. */
const REALM = 'squadron';

/** memcached names itself `memcached` to SASL, so its config file must be `memcached.conf`. */
const CONF_FILE = 'memcached.conf';
const DB_FILE = 'sasldb';

/**
 * Where the files go when the servers' user cannot enter the resource's folder (as root, a data
 * directory under a private home): root's own, wiped at boot, which is fine since every start
 * writes them again.
 */
const FALLBACK_ROOT = '/run/squadron-memcached';

const WELL_KNOWN = ['/usr/sbin/saslpasswd2', '/usr/bin/saslpasswd2'];

/** A new resource's secret: 24 random bytes, base64url (32 characters). */
export function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

/** The login name of a resource's servers. */
export function saslUsername(resource: string): string {
  return `${resource}@${REALM}`;
}

/**
 * Cyrus SASL's `saslpasswd2`: `explicit` when given, else SQUADRON_SASLPASSWD2_BIN, else on $PATH
 * or in /usr/sbin. Throws MISSING_BINARY naming the packages to install.
 */
export function findSaslpasswd2(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = explicit ?? env.SQUADRON_SASLPASSWD2_BIN;
  const candidates = chosen ? [chosen] : [...(env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'saslpasswd2')), ...WELL_KNOWN];
  const found = candidates.find(isExecutable);
  if (found) return found;
  throw new StorageError(
    'MISSING_BINARY',
    `memcached storage needs Cyrus SASL's saslpasswd2 to give each resource's servers their password: ${chosen ? `${chosen} is not an executable file` : 'none on $PATH or in /usr/sbin'}. ` +
      `Install the Debian packages 'sasl2-bin' and 'libsasl2-modules' (apt-get install sasl2-bin libsasl2-modules), or point SQUADRON_SASLPASSWD2_BIN at the binary.`,
  );
}

/**
 * Writes the resource's SASL files afresh (the servers must not be running on older ones yet)
 * and returns the folder to give memcached as SASL_CONF_PATH. memcached reads them after it has
 * become `user`, so they are that user's, 0600, in a 0700 folder of that user's.
 */
export async function writeSaslFiles(dir: string, resource: string, secret: string, user: OsUser | null, saslpasswd2: string): Promise<string> {
  const folder = saslFolder(dir, user);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  chmodSync(folder, 0o700);
  const db = join(folder, DB_FILE);
  const conf = join(folder, CONF_FILE);
  rmSync(db, { force: true });
  writeFileSync(conf, `mech_list: plain\nsasldb_path: ${db}\n`, { mode: 0o600 });
  await setPassword(saslpasswd2, db, resource, secret);
  for (const path of [db, conf]) chmodSync(path, 0o600);
  if (user) for (const path of [folder, db, conf]) chownSync(path, user.uid, user.gid);
  return folder;
}

/** Removes the resource's SASL files, wherever they were written. */
export function removeSaslFiles(dir: string): void {
  rmSync(join(dir, 'sasl'), { recursive: true, force: true });
  rmSync(fallbackFolder(dir), { recursive: true, force: true });
}

/**
 * `sasl/` in the resource's folder when the servers' user can reach it (search permission is
 * added to the resource's folder, which is ours, as the data directory's are), else a folder
 * of the resource's under FALLBACK_ROOT.
 */
function saslFolder(dir: string, user: OsUser | null): string {
  if (!user || user.uid === process.getuid?.()) return join(dir, 'sasl');
  if (openTo(dir, user)) return join(dir, 'sasl');
  if (!existsSync(dirname(FALLBACK_ROOT))) {
    throw new StorageError(
      'STORAGE_UNAVAILABLE',
      `the memcached servers run as '${user.name}', who can enter neither ${dir} nor ${dirname(FALLBACK_ROOT)}: ` +
        'keep the platform\'s data folder somewhere that user can enter (chmod o+x on the folders above it)',
    );
  }
  mkdirSync(FALLBACK_ROOT, { recursive: true, mode: 0o711 });
  chmodSync(FALLBACK_ROOT, 0o711);
  return fallbackFolder(dir);
}

function fallbackFolder(dir: string): string {
  return join(FALLBACK_ROOT, `${basename(dir)}-${createHash('sha256').update(dir).digest('hex').slice(0, 10)}`);
}


/** `saslpasswd2 -c` with the password on its stdin: never on a command line, where any user could read it. */
function setPassword(saslpasswd2: string, db: string, resource: string, secret: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(saslpasswd2, ['-p', '-c', '-a', 'memcached', '-u', REALM, '-f', db, resource], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (err) => reject(new StorageError('MISSING_BINARY', `could not run ${saslpasswd2}: ${err.message}`, { cause: err })));
    child.once('close', (code) => {
      if (code === 0 && existsSync(db)) return resolve();
      reject(new StorageError('STORAGE_UNAVAILABLE', `${saslpasswd2} could not write the password of memcached resource ${resource} (exit ${code}): ${stderr.trim() || 'no output'}`));
    });
    child.stdin.end(secret);
  });
}

