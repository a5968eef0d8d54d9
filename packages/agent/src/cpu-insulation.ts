import { readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { threadIds } from './proc-stats.ts';

/**
 * When an instance is demoted to the lowest CPU priority and when it gets its priority back
 * (docs/decisions/0009). Both go by the share of a core an instance *wants*: the time it was
 * running or waiting for a CPU, 100 being all of a sample. A process that spins wants all of it,
 * however little it gets on a busy machine; a service that answers requests wants what its
 * requests cost. Demoted: its share of the CPU shrinks only while others want the CPU; on an
 * idle machine it still runs at full speed.
 */
export interface CpuInsulationPolicy {
  /** Demote an instance that wants more than this share of one core… */
  demoteAbovePercent: number;
  /** …on this many samples in a row. */
  demoteAfterSamples: number;
  /** Restore it once it wants less than this… */
  restoreBelowPercent: number;
  /** …on this many samples in a row. */
  restoreAfterSamples: number;
  /** The nice value of a demoted instance (19: the lowest priority). */
  niceness: number;
  /**
   * The nice value of an instance restarting after a crash, until it is ready (loading a service
   * is a burst of CPU, which a crash loop or a leak killed every few seconds repeats). Only where
   * the agent may raise a priority again (see `mayRaisePriority`); elsewhere, and for a first
   * start, instances start at normal priority.
   */
  startingNiceness: number;
}

/** Wanting over 80% of a core for half a second (at the default 250 ms samples); calm for two seconds. */
export const DEFAULT_CPU_INSULATION: Readonly<CpuInsulationPolicy> = Object.freeze({
  demoteAbovePercent: 80,
  demoteAfterSamples: 2,
  restoreBelowPercent: 40,
  restoreAfterSamples: 8,
  niceness: 19,
  startingNiceness: 10,
});

/** One instance's demotion state, fed one sample at a time. */
export class CpuWatch {
  private demoted = false;
  private streak = 0;

  constructor(private readonly policy: CpuInsulationPolicy) {}

  get isDemoted(): boolean {
    return this.demoted;
  }

  /** Take a sample of the share of a core it wanted; returns what to do now. */
  observe(wantedPercent: number): 'demote' | 'restore' | null {
    const p = this.policy;
    if (!this.demoted) {
      this.streak = wantedPercent > p.demoteAbovePercent ? this.streak + 1 : 0;
      if (this.streak < p.demoteAfterSamples) return null;
      this.demoted = true;
      this.streak = 0;
      return 'demote';
    }
    this.streak = wantedPercent < p.restoreBelowPercent ? this.streak + 1 : 0;
    if (this.streak < p.restoreAfterSamples) return null;
    this.demoted = false;
    this.streak = 0;
    return 'restore';
  }

  /** Undo what `observe` decided, when acting on it failed. */
  set(demoted: boolean): void {
    this.demoted = demoted;
    this.streak = 0;
  }
}

/**
 * Set the nice value of every thread of a process (on Linux each thread has its own; threads
 * started later inherit the main thread's). Throws the system's error (EACCES: raising a
 * priority needs CAP_SYS_NICE); a thread that exited meanwhile is skipped.
 */
export function setProcessNiceness(pid: number, niceness: number): void {
  let failure: unknown = null;
  for (const tid of threadIds(pid)) {
    try {
      setPriority(tid, niceness);
    } catch (err) {
      if ((err as { info?: { code?: string } }).info?.code !== 'ESRCH') failure ??= err;
    }
  }
  if (failure !== null) throw failure;
}

/** The nice value instances start with: the agent's own, which its children inherit. */
export function baseNiceness(): number {
  return getPriority();
}

/** CAP_SYS_NICE, as a bit of the capability sets in /proc/PID/status. */
const CAP_SYS_NICE = 23n;

/**
 * Whether this process may set another of its user's processes back to nice `to` after raising
 * it: it has CAP_SYS_NICE, or its RLIMIT_NICE reaches `to` (nice may go down to 20 - limit).
 * False where /proc does not say.
 */
export function mayRaisePriority(to: number): boolean {
  try {
    const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (cap && (BigInt(`0x${cap[1]}`) >> CAP_SYS_NICE) & 1n) return true;
    const limit = /^Max nice priority\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return limit !== null && 20 - (limit[1] === 'unlimited' ? 40 : Number(limit[1])) <= to;
  } catch {
    return false;
  }
}
