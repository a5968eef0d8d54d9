import type { Logger } from 'pino';
import { CpuSampler, readRssBytes, readRunnableNs } from './proc-stats.ts';
import { CpuWatch, DEFAULT_CPU_INSULATION, baseNiceness, mayRaisePriority, setProcessNiceness, type CpuInsulationPolicy } from './cpu-insulation.ts';
import { MemoryWatch } from './memory-ceiling.ts';

/** How the agent keeps one instance from taking memory and CPU from the others. */
export interface InsulationOptions {
  /** How often a busy instance's memory and CPU are read (default 250 ms). */
  sampleEveryMs?: number;
  /**
   * How often a quiet one's are (default: as often as a busy one's): one that used under 5% of a core, is not demoted,
   * and holds under 60% of its ceiling without growing fast. Most instances are quiet most of the
   * time, and reading /proc four times a second for each of hundreds of them was most of an idle
   * host's CPU. A quiet instance that starts working is read fast again from its next sample.
   */
  quietSampleEveryMs?: number;
  /** Samples in a row over its memory ceiling that get an instance killed (default 3). */
  memoryOverSamples?: number;
  /** When an instance is demoted for its CPU use (DEFAULT_CPU_INSULATION); false: never. */
  cpu?: Partial<CpuInsulationPolicy> | false;
}

export interface GuardHandlers {
  /** Its resident memory stayed above its ceiling: the supervisor kills it, saying why. */
  overMemory(id: string, rssBytes: number, ceilingBytes: number): void;
  /** It was demoted, or got its priority back. */
  priorityChanged(id: string, demoted: boolean): void;
}

interface CpuState {
  watch: CpuWatch;
  sampler: CpuSampler;
  runnableNs: number | null;
  at: number;
  /** Giving its priority back was refused (no CAP_SYS_NICE): it stays demoted for good. */
  stuck: boolean;
}

interface Watched {
  pid: number;
  /** Restarted below normal priority, until ready. */
  starting: boolean;
  memory: MemoryWatch | null;
  cpu: CpuState | null;
  overMemory: boolean;
  /** When it is next read. */
  nextAt: number;
  /** Its resident memory at the last read, to see it growing. */
  lastRss: number | null;
  /** The share of a core it wanted at the last read (null until known). */
  lastShare: number | null;
}

/** Under these an instance is quiet: read at `quietSampleEveryMs`. */
const QUIET_CPU_PERCENT = 5;
const QUIET_MEMORY_SHARE = 0.6;
/** Growth between two reads, as a share of its ceiling, that is not quiet. */
const QUIET_GROWTH_SHARE = 0.05;

/**
 * Samples the memory and CPU of every running instance on a timer. An instance whose resident
 * memory stays above its ceiling is handed to the supervisor to kill; a ready instance that wants
 * more than its share of a core is demoted to the lowest CPU priority (every thread of it) and
 * gets its priority back once it calms down. A starting instance is not judged on its CPU
 * (loading a service is a burst of it). A restart after a crash starts below normal priority
 * instead, where the agent may raise it again once it is ready; a first start (a deploy, a
 * scale-up) runs at normal priority, so that new capacity is not starved on a busy machine.
 */
export class ResourceGuard {
  private readonly watched = new Map<string, Watched>();
  private readonly sampleEveryMs: number;
  private readonly quietSampleEveryMs: number;
  private readonly memoryOverSamples: number;
  private readonly cpuPolicy: CpuInsulationPolicy | null;
  private readonly baseNice = baseNiceness();
  /** Where priorities cannot be raised again, nothing starts lowered. */
  private readonly startingNice: number | null;
  private timer: NodeJS.Timeout | null = null;

  constructor(options: InsulationOptions, private readonly handlers: GuardHandlers, private readonly logger?: Logger) {
    this.sampleEveryMs = options.sampleEveryMs ?? 250;
    // Off unless asked for: a spinner that was quiet is then noticed up to that much later, and
    // the isolation test's healthy neighbour paid for it in its p99.
    this.quietSampleEveryMs = Math.max(this.sampleEveryMs, options.quietSampleEveryMs ?? this.sampleEveryMs);
    this.memoryOverSamples = options.memoryOverSamples ?? 3;
    this.cpuPolicy = options.cpu === false ? null : { ...DEFAULT_CPU_INSULATION, ...options.cpu };
    const starting = this.cpuPolicy?.startingNiceness ?? this.baseNice;
    this.startingNice = starting > this.baseNice && mayRaisePriority(this.baseNice) ? starting : null;
  }

  /**
   * Watch a process just started; `ceilingMb` null: no memory ceiling. `restarted`: it is a
   * restart after a crash, which starts below normal priority until ready.
   */
  watch(id: string, pid: number, ceilingMb: number | null, restarted: boolean): void {
    const memory = ceilingMb === null ? null : new MemoryWatch(ceilingMb * 1024 * 1024, this.memoryOverSamples);
    const starting = restarted && this.startingNice !== null && this.renice(id, pid, this.startingNice);
    this.watched.set(id, { pid, starting, memory, cpu: null, overMemory: false, nextAt: 0, lastRss: null, lastShare: null });
    this.timer ??= setInterval(() => this.sample(), this.sampleEveryMs).unref();
  }

  /** The process is ready: normal priority, and its CPU use counts from now. */
  ready(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    if (w.starting) w.starting = !this.renice(id, w.pid, this.baseNice);
    if (!this.cpuPolicy) return;
    const now = Date.now();
    w.cpu = { watch: new CpuWatch(this.cpuPolicy), sampler: new CpuSampler(w.pid, now), runnableNs: readRunnableNs(w.pid), at: now, stuck: false };
  }

  /** The process exited. */
  forget(id: string): void {
    this.watched.delete(id);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  isDemoted(id: string): boolean {
    return this.watched.get(id)?.cpu?.watch.isDemoted ?? false;
  }

  stop(): void {
    for (const id of [...this.watched.keys()]) this.forget(id);
  }

  /** Set a process's nice value; false (and logged) when the system refused. */
  private renice(id: string, pid: number, niceness: number): boolean {
    try {
      setProcessNiceness(pid, niceness);
      return true;
    } catch (err) {
      this.logger?.warn({ instance: id, niceness, err: (err as Error).message }, 'could not set the CPU priority of an instance');
      return false;
    }
  }

  private sample(): void {
    const now = Date.now();
    for (const [id, w] of this.watched) {
      if (now < w.nextAt) continue;
      let rss: number | null = null;
      if (w.memory && !w.overMemory) {
        rss = readRssBytes(w.pid);
        if (w.memory.observe(rss)) {
          w.overMemory = true; // once: the kill is on its way
          this.handlers.overMemory(id, rss!, w.memory.ceilingBytes);
        }
      }
      if (w.cpu && !w.cpu.stuck) w.lastShare = this.sampleCpu(id, w.pid, w.cpu, now);
      w.nextAt = now + (this.quiet(w, rss) ? this.quietSampleEveryMs : this.sampleEveryMs) - this.sampleEveryMs / 2;
      w.lastRss = rss;
    }
  }

  /** Ready, calm, small and not growing: nothing to act on soon. */
  private quiet(w: Watched, rss: number | null): boolean {
    if (w.starting || !w.cpu || w.cpu.watch.isDemoted || w.lastShare === null || w.lastShare >= QUIET_CPU_PERCENT) return false;
    if (!w.memory) return true;
    if (rss === null) return false;
    const ceiling = w.memory.ceilingBytes;
    return rss < ceiling * QUIET_MEMORY_SHARE && (w.lastRss === null || rss - w.lastRss < ceiling * QUIET_GROWTH_SHARE);
  }

  /** Returns the share of a core it wanted since the last read (null when unknown). */
  private sampleCpu(id: string, pid: number, c: CpuState, now: number): number | null {
    const cpu = c.sampler.sample(now);
    const runnable = readRunnableNs(pid);
    const elapsedMs = now - c.at;
    const wanted = runnable !== null && c.runnableNs !== null && elapsedMs > 0 ? ((runnable - c.runnableNs) / 1e6 / elapsedMs) * 100 : null;
    c.runnableNs = runnable;
    c.at = now;
    // Where the system does not say how long it waited for a CPU, the CPU it got stands in.
    const share = wanted ?? cpu;
    if (share === null) return null;
    const action = c.watch.observe(share);
    if (action === null) return share;
    const niceness = action === 'demote' ? this.cpuPolicy!.niceness : this.baseNice;
    try {
      setProcessNiceness(pid, niceness);
    } catch (err) {
      if (action === 'demote') {
        c.watch.set(false);
        this.logger?.error({ instance: id, err }, 'could not lower the priority of an instance that uses more than its share of CPU');
        return share;
      }
      c.watch.set(true);
      c.stuck = true;
      this.logger?.warn({ instance: id, err: (err as Error).message },
        'could not give a calmed-down instance its CPU priority back (raising a priority needs CAP_SYS_NICE); it stays demoted until it restarts');
      return share;
    }
    if (action === 'demote') {
      this.logger?.warn({ instance: id, wantedPercent: Math.round(share), cpuPercent: cpu, niceness }, 'instance wants more than its share of CPU: demoted to the lowest priority');
    } else {
      this.logger?.info({ instance: id, wantedPercent: Math.round(share), cpuPercent: cpu }, 'instance calmed down: CPU priority restored');
    }
    this.handlers.priorityChanged(id, action === 'demote');
    return share;
  }
}
