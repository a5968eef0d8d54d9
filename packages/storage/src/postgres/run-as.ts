import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StorageError } from '../provisioner.ts';

const execFileAsync = promisify(execFile);

/** The operating-system user the servers run as. */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** An operating-system user as this machine knows it (the servers', or a squad's instances'). */
export type OsUser = ServerUser;

/** The user named `name` (getent passwd), or null when this machine has none. */
export function lookupOsUser(name: string): OsUser | null {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
  return parsePasswdLine(name, line);
}

/** A passwd entry (name:password:uid:gid:gecos:home:shell) as a user, or null. */
function parsePasswdLine(name: string, line: string): OsUser | null {
  const fields = line.split(':');
  const [uid, gid] = [Number(fields[2]), Number(fields[3])];
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return null;
  return { name, uid, gid, home: fields[5] ?? '' };
}

/**
 * The system user `name`, created when missing (no home, no login shell): only root can. Two
 * processes creating the same user at once (two agents of one machine) is fine: whichever loses
 * finds the other's.
 */
export function ensureSystemUser(name: string): OsUser {
  const found = lookupOsUser(name);
  if (found) return found;
  let failure: unknown = null;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', name], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      // Exists already (another process made it), or /etc/passwd locked by another useradd: look again.
      failure = err;
    }
    const made = lookupOsUser(name);
    if (made) return made;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  const stderr = (failure as { stderr?: Buffer } | null)?.stderr?.toString().trim();
  throw new StorageError('STORAGE_UNAVAILABLE', `could not create the system user '${name}'${stderr ? `: ${stderr}` : ''}; run the platform as root, or create it (useradd --system ${name})`, { cause: failure });
}

/**
 * `ensureSystemUser` without blocking: for a process that must go on answering (an agent, whose
 * missed reports would have it taken for dead while `useradd` waits on a locked /etc/passwd).
 */
export async function ensureSystemUserAsync(name: string): Promise<OsUser> {
  const found = await lookupOsUserAsync(name);
  if (found) return found;
  let failure: unknown = null;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await execFileAsync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', name]);
    } catch (err) {
      failure = err; // made meanwhile by another process, or /etc/passwd locked: look again
    }
    const made = await lookupOsUserAsync(name);
    if (made) return made;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const stderr = (failure as { stderr?: string } | null)?.stderr?.trim();
  throw new StorageError('STORAGE_UNAVAILABLE', `could not create the system user '${name}'${stderr ? `: ${stderr}` : ''}; run the platform as root, or create it (useradd --system ${name})`, { cause: failure });
}

async function lookupOsUserAsync(name: string): Promise<OsUser | null> {
  try {
    return parsePasswdLine(name, (await execFileAsync('getent', ['passwd', name])).stdout.trim());
  } catch {
    return null;
  }
}

/**
 * Who runs PostgreSQL: this process's own user, or, when this process is root (PostgreSQL
 * refuses to run as root), the named system user (`postgres`, which the Debian packages create).
 * Returns null for "ourselves".
 */
export function resolveServerUser(name = 'postgres'): ServerUser | null {
  if (process.getuid?.() !== 0) return null;
  const user = lookupOsUser(name);
  if (user) return { ...user, home: user.home || '/var/lib/postgresql' };
  throw new StorageError(
    'STORAGE_UNAVAILABLE',
    `PostgreSQL refuses to run as root, and there is no '${name}' user to run it as: install the Debian package ` +
      `postgresql-15 (it creates the user), or create a system user (adduser --system ${name}), or run the platform as another user`,
  );
}

/** Creates `path` (and its parents) as a private folder of the server user. */
export function serverDir(path: string, user: ServerUser | null): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
  if (user) chownSync(path, user.uid, user.gid);
}

/**
 * The folder the resource's servers live in: the resource's own folder when the server user can
 * reach it (search permission is added to the folder itself, which is the resource's, when a
 * fresh 0700 folder lacks it), else a folder of the resource's in the server user's home
 * (/var/lib/postgresql on Debian): folders above the resource's are not ours to open up, and
 * PostgreSQL cannot run in a data directory its user cannot reach.
 */
export function serverFolder(dir: string, user: ServerUser | null): string {
  if (!user) return dir;
  if (openTo(dir, user)) return dir;
  const parent = join(user.home, 'squadron-storage');
  const folder = join(parent, `${basename(dir)}-${createHash('sha256').update(dir).digest('hex').slice(0, 10)}`);
  if (!ancestorsOpen(parent, user)) {
    throw new StorageError(
      'STORAGE_UNAVAILABLE',
      `the PostgreSQL servers run as the '${user.name}' user, who can reach neither ${dir} nor its home ${user.home}: ` +
        `keep the platform's data folder somewhere that user can enter (chmod o+x on the folders above it)`,
    );
  }
  serverDir(parent, user);
  serverDir(folder, user);
  return folder;
}

/**
 * Whether `user` (a storage server's) can reach `dir`, a folder of ours: when it can enter every
 * folder above it, search permission is added to `dir` itself if it lacks it, and true.
 */
export function openTo(dir: string, user: ServerUser): boolean {
  if (!ancestorsOpen(dir, user)) return false;
  const own = statSync(dir);
  if (!canSearch(own, user)) chmodSync(dir, (own.mode & 0o7777) | 0o001);
  return true;
}

/** Whether `user` can enter every folder above `path` (those that exist). */
function ancestorsOpen(path: string, user: ServerUser): boolean {
  for (let d = dirname(path); ; d = dirname(d)) {
    if (existsSync(d) && !canSearch(statSync(d), user)) return false;
    if (d === dirname(d)) return true;
  }
}

function canSearch(st: { mode: number; uid: number; gid: number }, user: ServerUser): boolean {
  if (st.uid === user.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === user.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

export interface ToolRun {
  user: ServerUser | null;
  cwd: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Runs one PostgreSQL program as the server user and resolves with its output; a failure is a
 * StorageError carrying the program's last lines of output, which say what went wrong.
 */
export function runTool(program: string, args: readonly string[], run: ToolRun): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: run.cwd,
      // A small, fixed environment: the server user's tools must not pick up our PGHOST or PGPASSFILE.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', ...run.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(run.user ? { uid: run.user.uid, gid: run.user.gid } : {}),
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), run.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new StorageError('MISSING_BINARY', `could not run ${program}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(output);
      const tail = output.trim().split('\n').slice(-6).join('\n');
      reject(new StorageError('STORAGE_UNAVAILABLE', `${basename(program)} failed (${signal ?? `exit ${code}`}): ${tail}`));
    });
  });
}
