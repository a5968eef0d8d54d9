import { readdirSync, readFileSync } from 'node:fs';

/**
 * Memory and CPU of a child process, read from Linux's /proc. Elsewhere (or once the process is
 * gone) every reading is null: the agent reports what it knows and never fails for lack of /proc.
 */

/** Kernel clock ticks per second for utime/stime (USER_HZ: 100 on every Linux Node supports). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** Shorter windows than this give a jumpy percentage; the last value is kept instead. */
const MIN_WINDOW_MS = 100;

/** Resident memory in bytes (VmRSS), or null when it cannot be read. */
export function readRssBytes(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** User plus system CPU time in clock ticks (fields 14 and 15 of /proc/PID/stat), or null. */
export function readCpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : null;
  } catch {
    return null;
  }
}

/**
 * Nanoseconds the process's main thread has been runnable: running plus waiting for a CPU (the
 * first two fields of /proc/PID/schedstat), or null. Unlike CPU time, this keeps counting while
 * the process is held back by others: it is how much CPU it wants, not how much it got.
 */
export function readRunnableNs(pid: number): number | null {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ');
    const ns = Number(run) + Number(wait);
    return Number.isFinite(ns) ? ns : null;
  } catch {
    return null;
  }
}

/** The thread ids of a process (Linux keeps a nice value per thread), or just its pid without /proc. */
export function threadIds(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter((t) => Number.isInteger(t));
  } catch {
    return [pid];
  }
}

/**
 * CPU percent of one process between successive samples: the CPU time it used over the wall time
 * that passed, 100 being one core. The first window starts when the process was started, so the
 * first sample is its average since start.
 */
export class CpuSampler {
  private ticks = 0;
  private at: number;
  private last: number | null = null;

  constructor(private readonly pid: number, startedAt: number = Date.now()) {
    this.at = startedAt;
  }

  sample(now: number = Date.now()): number | null {
    const ticks = readCpuTicks(this.pid);
    if (ticks === null) return null;
    const elapsedMs = now - this.at;
    if (elapsedMs < MIN_WINDOW_MS) return this.last;
    const cpuMs = ((ticks - this.ticks) * 1000) / CLOCK_TICKS_PER_SECOND;
    this.last = Math.max(0, Math.round((cpuMs / elapsedMs) * 1000) / 10);
    this.ticks = ticks;
    this.at = now;
    return this.last;
  }
}
