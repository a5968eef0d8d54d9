import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A fresh bearer token: 32 random bytes, with a prefix that says what it is when it leaks into a log. */
export function newToken(kind: 'admin' | 'squad' | 'app'): string {
  return `sq${kind === 'admin' ? 'a' : kind === 'squad' ? 's' : 'k'}_${randomBytes(32).toString('base64url')}`;
}

/** Tokens are kept only as this hash: a copy of the state store does not hand out credentials. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(hashToken(a), 'hex');
  const y = Buffer.from(hashToken(b), 'hex');
  return timingSafeEqual(x, y);
}

/**
 * The platform admin's token, kept in a file readable by its owner only. Made on first use, the
 * same afterwards: the CLI of the same machine reads it from there.
 */
export function adminTokenAt(file: string): string {
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length > 0) return token;
  }
  mkdirSync(dirname(file), { recursive: true });
  const token = newToken('admin');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}
