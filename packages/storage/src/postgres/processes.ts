import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';

// Finding a server's processes. PostgreSQL puts each child of the postmaster in a session (and
// process group) of its own, and a child whose postmaster died is adopted by init, so neither the
// process group nor the parent finds them; their working directory, the data directory, does.

/** SIGKILL to each of `pids`; those already gone are skipped. */
export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * The live processes whose working directory is `dataDir`: a server's postmaster and all its
 * children, orphaned or not (zombies have none, and hold nothing).
 */
export function serverProcesses(dataDir: string): number[] {
  let real: string;
  let pids: string[];
  try {
    real = realpathSync(dataDir);
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const pid of pids) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) === real && Number(pid) !== process.pid) found.push(Number(pid));
    } catch {
      // Gone meanwhile, or not ours to see.
    }
  }
  return found;
}

/** Whether process `pid` is a postgres serving `dataDir` (not a stranger that reused the id). */
export function processServes(pid: number, dataDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir);
  } catch {
    return false;
  }
}
