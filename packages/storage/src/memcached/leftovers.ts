import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StorageError } from '../provisioner.ts';

/** What the memcached kind keeps for a resource: where each of its servers listens, and its secret. */
export interface MemcachedState {
  /** Item memory of each server (-m), in MiB. */
  memoryMb: number;
  /**
   * The password of the resource's login, which every server requires. Absent in a state kept
   * by a version before servers required one: `start` gives it one.
   */
  secret?: string;
  /** Every server, grouped by site in the spec's site order. */
  servers: MemcachedServerState[];
}

export interface MemcachedServerState {
  site: string;
  host: string;
  port: number;
}

const STATE_FILE = 'memcached.json';

/**
 * The state is also kept in the resource's folder (0600, since it holds the secret): a `create`
 * repeated after a platform crash (before the control plane kept what the first one returned)
 * finds the servers it started, and the secret they take.
 */
export function readStateFile(dir: string): MemcachedState | null {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as MemcachedState;
    return Array.isArray(parsed.servers) ? parsed : null;
  } catch {
    return null;
  }
}

export function writeStateFile(dir: string, state: MemcachedState): void {
  const tmp = join(dir, `${STATE_FILE}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, join(dir, STATE_FILE));
}

export function removeStateFile(dir: string): void {
  rmSync(join(dir, STATE_FILE), { force: true });
}

/** The files of one server: `memcached-<site>-<n>.{pid,log}`. */
export function serverFiles(dir: string, site: string, n: number): { pidFile: string; logFile: string } {
  const base = join(dir, `memcached-${site.replace(/[^\w.-]/g, '_')}-${n}`);
  return { pidFile: `${base}.pid`, logFile: `${base}.log` };
}

/**
 * The pid in `pidFile` when that process is still a memcached on `port`: one a platform killed
 * without its `stop` left running. A pid reused by anything else, or a zombie (empty command
 * line), is not.
 */
export function leftoverPid(pidFile: string, port: number): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 1) return null;
  return isMemcachedOn(pid, port) ? pid : null;
}

function isMemcachedOn(pid: number, port: number): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  const p = argv.indexOf('-p');
  return /memcached[^/]*$/.test(argv[0] ?? '') && p > 0 && argv[p + 1] === String(port);
}

/**
 * Ends a leftover server (SIGKILL: a cache has nothing to write out) and resolves once it is
 * gone, so its port is free for the new one. Resolves false when there was none.
 */
export async function endLeftover(pidFile: string, port: number, timeoutMs = 5_000): Promise<boolean> {
  const pid = leftoverPid(pidFile, port);
  if (pid === null) return false;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
  const deadline = Date.now() + timeoutMs;
  while (isMemcachedOn(pid, port)) {
    if (Date.now() >= deadline) {
      throw new StorageError('STORAGE_UNAVAILABLE', `memcached ${pid} left running on port ${port} does not end; kill it, then start the resource again`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  rmSync(pidFile, { force: true });
  return true;
}
