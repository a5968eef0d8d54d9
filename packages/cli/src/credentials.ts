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

export function saveLogin(url: string, token: string): string {
  const file = loginFile();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...logins(), [url]: token }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/**
 * The token the CLI acts with: SQUADRON_TOKEN, else the one `squadron login` saved for this
 * platform, else, for a platform this machine runs, the admin token in its data directory.
 */
export function resolveToken(url: string, dataDirFlag?: string): string | undefined {
  if (process.env.SQUADRON_TOKEN) return process.env.SQUADRON_TOKEN;
  const saved = logins()[url];
  if (saved) return saved;
  try {
    const admin = readFileSync(join(dataDir(dataDirFlag), ADMIN_TOKEN_FILE), 'utf8').trim();
    return admin || undefined;
  } catch {
    return undefined;
  }
}
