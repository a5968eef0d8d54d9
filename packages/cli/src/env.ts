import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI's entry script, for starting child processes through the same command. */
export const BIN = fileURLToPath(new URL('../bin/squadron.mjs', import.meta.url));

export const DEFAULT_URL = 'http://127.0.0.1:7700';

/** The platform's data directory: the flag, else SQUADRON_DATA_DIR, else `.squadron`. */
export function dataDir(flag?: string): string {
  return resolve(flag ?? process.env.SQUADRON_DATA_DIR ?? '.squadron');
}

/** What `squadron up` records in its data directory for the CLI of the same machine. */
export interface PlatformRecord {
  url: string;
  pid: number;
  startedAt: number;
}

export const PLATFORM_FILE = 'platform.json';

/** The admin token's file in the data directory; the CLI of this machine reads it from there. */
export const ADMIN_TOKEN_FILE = 'admin-token';

/**
 * Where the platform's API is: SQUADRON_URL, else what a local `squadron up` recorded in its data
 * directory, else the default address.
 */
export function platformUrl(dataDirFlag?: string): string {
  if (process.env.SQUADRON_URL) return process.env.SQUADRON_URL;
  try {
    const rec = JSON.parse(readFileSync(join(dataDir(dataDirFlag), PLATFORM_FILE), 'utf8')) as PlatformRecord;
    if (typeof rec.url === 'string') return rec.url;
  } catch {
    /* no local platform recorded */
  }
  return DEFAULT_URL;
}
