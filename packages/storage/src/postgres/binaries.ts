import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { StorageError } from '../provisioner.ts';

/** The PostgreSQL server programs the embedded provisioner runs, all from one directory. */
export interface PostgresBinaries {
  dir: string;
  initdb: string;
  postgres: string;
  pgBasebackup: string;
  pgRewind: string;
  pgControldata: string;
}

/** Where Debian and Ubuntu install each major version's server programs. */
export const DEBIAN_POSTGRES_ROOT = '/usr/lib/postgresql';

const PROGRAMS = ['initdb', 'postgres', 'pg_basebackup', 'pg_rewind', 'pg_controldata'] as const;

/**
 * Finds the server programs: in `searchDirs` when given (tests point this at an empty folder),
 * else /usr/lib/postgresql/<version>/bin (`majorVersion`'s, else the newest), then PATH. The client tools alone (the
 * `postgresql-client` package) are not enough: initdb and postgres come with the server.
 *
 * @example
 *   const bin = locatePostgresBinaries(); // { dir: '/usr/lib/postgresql/15/bin', initdb: ..., ... }
 */
export function locatePostgresBinaries(searchDirs?: readonly string[], majorVersion?: string): PostgresBinaries {
  const dirs = searchDirs ?? [...debianDirs(majorVersion), ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  for (const dir of dirs) {
    if (PROGRAMS.every((p) => executable(join(dir, p)))) {
      return {
        dir,
        initdb: join(dir, 'initdb'),
        postgres: join(dir, 'postgres'),
        pgBasebackup: join(dir, 'pg_basebackup'),
        pgRewind: join(dir, 'pg_rewind'),
        pgControldata: join(dir, 'pg_controldata'),
      };
    }
  }
  throw new StorageError(
    'MISSING_BINARY',
    `the PostgreSQL server programs (${PROGRAMS.join(', ')}) were not found in ${dirs.length ? dirs.join(', ') : 'any folder'}: ` +
      `install the Debian package postgresql-15 (or postgresql, which pulls in the current version), ` +
      `or give the resource an existing server to use instead`,
  );
}

/**
 * /usr/lib/postgresql/<version>/bin, newest major version first, but `majorVersion` first of all:
 * a data directory needs the major version that made it (a newer one needs pg_upgrade).
 */
function debianDirs(majorVersion?: string): string[] {
  let versions: string[];
  try {
    versions = readdirSync(DEBIAN_POSTGRES_ROOT).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    return [];
  }
  versions.sort((a, b) => (a === majorVersion ? -1 : b === majorVersion ? 1 : Number(b) - Number(a)));
  return versions.map((v) => join(DEBIAN_POSTGRES_ROOT, v, 'bin'));
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
