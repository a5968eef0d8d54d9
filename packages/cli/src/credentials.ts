import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ADMIN_TOKEN_FILE, dataDir } from './env.ts';

/** Where `squadron login` keeps tokens, one per platform address, readable by the user only. */
export function loginFile(): string {
  return join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'squadron', 'login.json');
}

function logins(): Record<string, string> {
  try {
    return JSON.parse(readFileSync(loginFile(), 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

function writeLogins(all: Record<string, string>): string {
  const file = loginFile();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

export function saveLogin(url: string, token: string): string {
  return writeLogins({ ...logins(), [url]: token });
}

/** Forget the login saved for this platform; whether there was one. */
export function removeLogin(url: string): boolean {
  const all = logins();
  if (!(url in all)) return false;
  delete all[url];
  writeLogins(all);
  return true;
}

/** Where the token the CLI acts with came from. */
export type TokenSource =
  | { kind: 'env' }
  | { kind: 'login'; file: string }
  | { kind: 'admin-token'; file: string };

export interface ResolvedToken {
  token: string;
  source: TokenSource;
}

/** The local admin token of a platform this machine runs, and its file, if there is one. */
export function localAdminToken(dataDirFlag?: string): ResolvedToken | null {
  const file = join(dataDir(dataDirFlag), ADMIN_TOKEN_FILE);
  try {
    const token = readFileSync(file, 'utf8').trim();
    return token ? { token, source: { kind: 'admin-token', file } } : null;
  } catch {
    return null;
  }
}

/**
 * The token the CLI acts with, and where it came from: SQUADRON_TOKEN, else the one
 * `squadron login` saved for this platform, else, for a platform this machine runs, the admin
 * token in its data directory. Null when there is none.
 */
export function resolveCredential(url: string, dataDirFlag?: string): ResolvedToken | null {
  if (process.env.SQUADRON_TOKEN) return { token: process.env.SQUADRON_TOKEN, source: { kind: 'env' } };
  const saved = logins()[url];
  if (saved) return { token: saved, source: { kind: 'login', file: loginFile() } };
  return localAdminToken(dataDirFlag);
}

/** The token alone (see resolveCredential). */
export function resolveToken(url: string, dataDirFlag?: string): string | undefined {
  return resolveCredential(url, dataDirFlag)?.token;
}
