import { spawn } from 'node:child_process';
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

/** Stands a parent watch down once its server has been stopped (or has exited) the normal way. */
export interface ParentWatch {
  release(): void;
}

// The watchdog: blocks reading its stdin, a pipe whose other end only this process holds (Node
// opens it close-on-exec), so the read returns when this process ends, SIGKILL included. It then
// signals the server, if it is still the same process (its start time), and SIGKILLs it after
// 5 s if it is still there.
const WATCHDOG = `read _
[ "$(cut -d' ' -f22 /proc/$1/stat 2>/dev/null)" = "$2" ] || exit 0
kill -$3 $1 2>/dev/null
i=0
while kill -0 $1 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
kill -KILL $1 2>/dev/null`;

/** Field 22 of /proc/PID/stat: when the process started, which a reused pid does not share. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Ends the server `pid` when this process goes away, however it goes (SIGKILL included): a small
 * shell watchdog in a session of its own, holding a pipe from this process, sends `signal`
 * (PostgreSQL: SIGQUIT, an immediate shutdown that takes its backends with it) once the pipe
 * closes. A server started with `detached` otherwise runs on under init.
 */
export function endWithThisProcess(pid: number, signal: 'QUIT' | 'KILL'): ParentWatch {
  const started = startTime(pid);
  if (started === null) return { release: () => {} };
  const dog = spawn('/bin/sh', ['-c', WATCHDOG, 'watchdog', String(pid), started, signal], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  dog.on('error', () => { /* no shell: the server is stopped by stop() alone, as before */ });
  dog.unref();
  // The pipe must not keep this process alive; it only has to stay open while this process lives.
  (dog.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
  dog.stdin?.on('error', () => {});
  return {
    release: () => {
      if (dog.exitCode === null && dog.signalCode === null) dog.kill('SIGKILL');
    },
  };
}
